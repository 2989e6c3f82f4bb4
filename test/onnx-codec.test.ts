/**
 * The ONNX codec keeps what its schema does not know: a model with fields unknown to onnx-proto's ONNX 1.10 schema
 * (on the model, the graph and a node) survives the attention patch byte for byte outside the nodes it changed.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeModel, encodeModel, onnx } from '../src/engine/graph/onnx-model.js';
import { concat, lengthDelimited, type WireField, wireFields } from '../src/engine/graph/wire.js';
import { patchUNetGraph } from '../src/p2p/graph/patch.js';
import { tinyModelDir } from './helpers.js';

const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
/** Field numbers no ONNX version uses. */
const UNKNOWN = { model: 9001, graph: 9002, node: 9003 };

const bytesField = (number: number, text: string): Uint8Array => concat(lengthDelimited(number, new TextEncoder().encode(text)));

/** Appends `extra` inside the payload of the first length-delimited field of `message` that `which` picks, in place. */
function appendInside(message: Uint8Array, which: (f: WireField) => boolean, extra: Uint8Array): Uint8Array {
  const fields = wireFields(message);
  const at = fields.findIndex(which);
  if (at < 0 || !fields[at].payload) throw new Error('appendInside: no such field');
  return concat(fields.map((f, i) => (i === at ? concat(lengthDelimited(f.number, concat([f.payload!, extra]))) : f.bytes)));
}

const contains = (haystack: Uint8Array, needle: Uint8Array): boolean => Buffer.from(haystack).indexOf(Buffer.from(needle)) >= 0;
const nodeName = (payload: Uint8Array): string => onnx.NodeProto.decode(payload).name;

describe('ONNX codec: fields the schema does not know', () => {
  const original = readFileSync(join(tinyModelDir, 'unet', 'model.onnx'));
  let tagged: Uint8Array;
  let untouched: string;
  let replaced: string;
  let patched: Uint8Array;

  beforeAll(() => {
    // Tag one node the patch leaves alone (the first Conv) and one it replaces (the first attention's MatMul with V).
    const graph = wireFields(original).find((f) => f.number === MODEL_GRAPH)!.payload!;
    const nodes = wireFields(graph).filter((f) => f.number === GRAPH_NODE);
    untouched = nodeName(nodes.find((f) => onnx.NodeProto.decode(f.payload!).opType === 'Conv')!.payload!);
    replaced = nodeName(nodes.find((f) => nodeName(f.payload!).endsWith('attn1/MatMul_1'))!.payload!);
    const node = (name: string) => (f: WireField) => f.number === GRAPH_NODE && nodeName(f.payload!) === name;
    const isGraph = (f: WireField): boolean => f.number === MODEL_GRAPH;
    tagged = appendInside(original, isGraph, bytesField(UNKNOWN.graph, 'graph extra'));
    for (const [name, text] of [[untouched, 'kept'], [replaced, 'gone']]) {
      const taggedGraph = appendInside(wireFields(tagged).find(isGraph)!.payload!, node(name), bytesField(UNKNOWN.node, text));
      tagged = concat(wireFields(tagged).map((f) => (isGraph(f) ? concat(lengthDelimited(MODEL_GRAPH, taggedGraph)) : f.bytes)));
    }
    tagged = concat([tagged, bytesField(UNKNOWN.model, 'model extra')]);
    patched = patchUNetGraph(tagged).bytes;
  });

  test('the schema really lacks them: the plain codec drops all three', () => {
    expect(tagged.length).toBeGreaterThan(original.length + 40);
    const plain = onnx.ModelProto.encode(onnx.ModelProto.decode(tagged)).finish();
    expect(contains(plain, bytesField(UNKNOWN.model, 'model extra'))).toBe(false);
    expect(contains(plain, bytesField(UNKNOWN.graph, 'graph extra'))).toBe(false);
    expect(contains(plain, bytesField(UNKNOWN.node, 'kept'))).toBe(false);
  });

  test('decode then encode without edits gives the same bytes', () => {
    expect(Buffer.compare(encodeModel(decodeModel(tagged)), tagged)).toBe(0);
  });

  test('after the patch: model, graph and untouched node keep their unknown fields; the replaced node is gone', () => {
    const top = wireFields(patched);
    expect(top.some((f) => f.number === UNKNOWN.model && Buffer.compare(f.bytes, bytesField(UNKNOWN.model, 'model extra')) === 0)).toBe(true);
    // Everything on the model outside the graph is the original's, in the original order.
    const outsideGraph = (bytes: Uint8Array): Uint8Array => concat(wireFields(bytes).filter((f) => f.number !== MODEL_GRAPH).map((f) => f.bytes));
    expect(Buffer.compare(outsideGraph(patched), outsideGraph(tagged))).toBe(0);

    const graph = top.find((f) => f.number === MODEL_GRAPH)!.payload!;
    const fields = wireFields(graph);
    expect(fields.some((f) => f.number === UNKNOWN.graph && Buffer.compare(f.bytes, bytesField(UNKNOWN.graph, 'graph extra')) === 0)).toBe(true);
    const nodes = fields.filter((f) => f.number === GRAPH_NODE);
    const kept = nodes.find((f) => nodeName(f.payload!) === untouched)!;
    expect(contains(kept.payload!, bytesField(UNKNOWN.node, 'kept'))).toBe(true);
    expect(nodes.some((f) => nodeName(f.payload!) === replaced)).toBe(false);
  });

  test('every original node and initializer still in the patched graph unchanged is there byte for byte', () => {
    const slices = (model: Uint8Array, number: number): WireField[] =>
      wireFields(wireFields(model).find((f) => f.number === MODEL_GRAPH)!.payload!).filter((f) => f.number === number);
    const before = new Map(slices(tagged, GRAPH_NODE).map((f) => [nodeName(f.payload!), f]));
    let verbatim = 0;
    for (const after of slices(patched, GRAPH_NODE)) {
      const origin = before.get(nodeName(after.payload!));
      if (!origin) continue; // a node the patch added
      const sameContent = Buffer.compare(onnx.NodeProto.encode(onnx.NodeProto.decode(origin.payload!)).finish(), onnx.NodeProto.encode(onnx.NodeProto.decode(after.payload!)).finish()) === 0;
      // A node whose known content the patch changed (the upsamplers' Resize) is encoded anew; every other is a copy.
      if (sameContent) {
        expect(Buffer.compare(after.bytes, origin.bytes)).toBe(0);
        verbatim++;
      }
    }
    expect(verbatim).toBeGreaterThan(0.9 * before.size);
    const initializersAfter = slices(patched, GRAPH_INITIALIZER).map((f) => Buffer.from(f.bytes));
    for (const f of slices(tagged, GRAPH_INITIALIZER)) expect(initializersAfter.some((b) => b.equals(f.bytes))).toBe(true);
  });
});
