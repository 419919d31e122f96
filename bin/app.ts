#!/usr/bin/env node
/**
 * The Portcullis CDK app: one stack set per configured region.
 *
 * @example npx cdk synth -c stage=prod -c regions=eu-west-1,us-east-1 -c account=123456789012
 */
import { App } from "aws-cdk-lib";
import { buildApp } from "../lib/app.ts";
import { resolveConfig } from "../lib/config/stage.ts";

const app = new App();
const config = resolveConfig({ context: (key) => app.node.tryGetContext(key), env: process.env });
buildApp(app, config);
app.synth();
