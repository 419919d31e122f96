import { generateKeyPairSync, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { derToJose, joseToDer } from "../../../src/keys/der.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));

describe("DER ECDSA signature → JOSE r||s", () => {
  it("converts node:crypto DER signatures to what ieee-p1363 verification accepts (1000 random signatures)", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    for (let i = 0; i < 1000; i++) {
      const data = Buffer.from(`message ${i}`);
      const der = sign("sha256", data, privateKey);
      const jose = derToJose(der, 32);
      expect(jose.length).toBe(64);
      expect(verify("sha256", data, { key: publicKey, dsaEncoding: "ieee-p1363" }, jose)).toBe(true);
      expect(Buffer.from(joseToDer(jose))).toEqual(der);
    }
  });

  it("left-pads short integers and strips the sign byte of high-bit integers", () => {
    // r = 0x01 (1 byte), s = 0x80 followed by 31 bytes (needs a leading 0x00 in DER)
    const s = `80${"11".repeat(31)}`;
    const der = hex(`30 26 02 01 01 02 21 00 ${s}`);
    const jose = derToJose(der, 32);
    expect(Buffer.from(jose.subarray(0, 32)).toString("hex")).toBe(`${"00".repeat(31)}01`);
    expect(Buffer.from(jose.subarray(32)).toString("hex")).toBe(s);
  });

  it("handles the long length form (ES512-sized signatures)", () => {
    const r = `01${"ab".repeat(65)}`;
    const der = joseToDer(hex(`${r}${r}`));
    expect(der[1]).toBe(0x81);
    expect(Buffer.from(derToJose(der, 66)).toString("hex")).toBe(`${r}${r}`);
  });

  it.each([
    ["empty", ""],
    ["not a SEQUENCE", "31 06 02 01 01 02 01 01"],
    ["length mismatch", "30 07 02 01 01 02 01 01"],
    ["trailing bytes", "30 06 02 01 01 02 01 01 00"],
    ["not INTEGERs", "30 06 04 01 01 02 01 01"],
    ["negative r", "30 06 02 01 81 02 01 01"],
    ["non-minimal integer", "30 07 02 02 00 01 02 01 01"],
    ["zero r", "30 06 02 01 00 02 01 01"],
    ["integer too large", `30 27 02 22 01${"00".repeat(33)} 02 01 01`],
    ["truncated", "30 06 02 01"],
  ])("refuses malformed DER: %s", (_name, input) => {
    expect(() => derToJose(hex(input), 32)).toThrow(/DER/);
  });
});
