/**
 * Audit stack (every region): the EventBridge bus the functions put audit events on. Consumers
 * (audit store writer, customer streams) attach rules to it in later changes.
 */
import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import { EventBus, type IEventBus } from "aws-cdk-lib/aws-events";
import type { Construct } from "constructs";
import { eventBusName } from "../config/names.ts";
import type { PortcullisConfig } from "../config/stage.ts";

export interface AuditStackProps extends StackProps {
  readonly config: PortcullisConfig;
}

export class AuditStack extends Stack {
  readonly bus: IEventBus;

  constructor(scope: Construct, id: string, props: AuditStackProps) {
    super(scope, id, props);
    const bus = new EventBus(this, "AuditBus", {
      eventBusName: eventBusName(props.config),
      description: "Portcullis audit events (CloudEvents-style envelope)",
    });
    this.bus = bus;
    new CfnOutput(this, "AuditBusArn", { value: bus.eventBusArn });
  }
}
