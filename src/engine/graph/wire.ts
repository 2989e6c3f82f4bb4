/**
 * Re-encoding an edited ONNX model without losing what the codec does not know.
 *
 * The generated codec (onnx-proto: the ONNX 1.10 schema) drops every field it has no definition for, so a newer
 * export would come back silently altered. No maintained JavaScript codec both keeps unknown fields and ships the
 * current onnx.proto, so this works at the protobuf wire level instead: the model, its graph and each element of
 * the graph's repeated fields (nodes, initializers, inputs, outputs, value infos…) are copied from the original bytes
 * verbatim, unknown fields included, whenever the edit left their known content as it was; only what changed is
 * encoded anew. An untouched model therefore re-encodes to its own bytes.
 *
 * "Unchanged" is decided by encoding: the element's current value against its original bytes decoded and encoded
 * again (the codec's view of the original). Nothing has to be recorded when the model is decoded but which object
 * came from which bytes.
 */
/** What a generated message class offers: encode and decode. */
export interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

/** One field of a message on the wire: its number and its bytes, tag included (and, for length-delimited, the payload). */
export interface WireField {
  number: number;
  /** Tag to end of value. */
  bytes: Uint8Array;
  /** The payload of a length-delimited field (wire type 2); undefined otherwise. */
  payload?: Uint8Array;
}

const WIRE = { VARINT: 0, FIXED64: 1, LENGTH: 2, FIXED32: 5 } as const;

/** The fields of one message, in wire order. Throws on groups (wire types 3/4, which ONNX never uses) and on truncation. */
export function wireFields(bytes: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      if (pos >= bytes.length) throw new Error('truncated protobuf varint');
      const byte = bytes[pos++];
      // Only tags and lengths are read as numbers; values above 2^53 appear in skipped varints only.
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
      if (shift > 63) throw new Error('protobuf varint longer than 10 bytes');
    }
  };
  while (pos < bytes.length) {
    const start = pos;
    const tag = varint();
    const number = Math.floor(tag / 8);
    const type = tag % 8;
    let payload: Uint8Array | undefined;
    if (type === WIRE.VARINT) varint();
    else if (type === WIRE.FIXED64) pos += 8;
    else if (type === WIRE.FIXED32) pos += 4;
    else if (type === WIRE.LENGTH) {
      const length = varint();
      payload = bytes.subarray(pos, pos + length);
      pos += length;
    } else throw new Error(`protobuf wire type ${type} (groups) is not supported`);
    if (pos > bytes.length) throw new Error('truncated protobuf field');
    fields.push({ number, bytes: bytes.subarray(start, pos), payload });
  }
  return fields;
}

/** Tag (wire type 2) and length prefix of a length-delimited field. */
export function lengthDelimited(number: number, payload: Uint8Array): Uint8Array[] {
  const header: number[] = [];
  for (let v = number * 8 + WIRE.LENGTH; ; v = Math.floor(v / 128)) {
    if (v < 128) {
      header.push(v);
      break;
    }
    header.push((v % 128) | 0x80);
  }
  for (let v = payload.length; ; v = Math.floor(v / 128)) {
    if (v < 128) {
      header.push(v);
      break;
    }
    header.push((v % 128) | 0x80);
  }
  return [Uint8Array.from(header), payload];
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** A repeated message field of a message: its number, its codec and its current elements. */
export interface RepeatedField<T> {
  number: number;
  codec: MessageCodec<T>;
  current: readonly T[];
  /** The elements as decoded, in wire order: original[k] came from the k-th occurrence of the field. */
  original: readonly T[];
}

/**
 * Re-encodes a message whose repeated message fields may have changed. Every other field ("the rest": `without`
 * gives the message less its repeated fields) is copied verbatim when its codec-known part is as decoded, and
 * encoded anew (losing its unknown fields) otherwise; each element
 * is copied verbatim when its known content is unchanged, and encoded anew otherwise. Fields keep their original
 * order; a repeated field's elements are written where it first occurred (at the end when it did not).
 */
export function reencode<T>(
  original: Uint8Array,
  repeated: readonly RepeatedField<unknown>[],
  rest: { codec: MessageCodec<T>; current: T; without(message: T): T },
): Uint8Array {
  const fields = wireFields(original);
  const handled = new Map(repeated.map((r) => [r.number, r]));
  const restFields = fields.filter((f) => !handled.has(f.number));
  const encodeRest = (message: T): Uint8Array => rest.codec.encode(rest.without(message)).finish();
  const currentRest = encodeRest(rest.current);
  const keepRest = equalBytes(encodeRest(rest.codec.decode(concat(restFields.map((f) => f.bytes)))), currentRest);
  const parts: Uint8Array[] = [];
  const written = new Set<number>();
  const writeRepeated = (field: RepeatedField<unknown>): void => {
    written.add(field.number);
    const slices = fields.filter((f) => f.number === field.number);
    const originals = new Map<unknown, WireField>();
    field.original.forEach((element, k) => slices[k] && originals.set(element, slices[k]));
    for (const element of field.current) parts.push(...elementBytes(field, element, originals.get(element)));
  };
  if (!keepRest) parts.push(currentRest);
  for (const f of fields) {
    const field = handled.get(f.number);
    if (field) {
      if (!written.has(f.number)) writeRepeated(field);
    } else if (keepRest) parts.push(f.bytes);
  }
  for (const field of repeated) if (!written.has(field.number)) writeRepeated(field);
  return concat(parts);
}

function elementBytes<T>(field: RepeatedField<T>, element: T, slice: WireField | undefined): Uint8Array[] {
  const encoded = field.codec.encode(element).finish();
  // The usual case first: the element encodes to its original bytes. Else it may still be unchanged, with unknown
  // fields or a non-canonical encoding: compare with its original as the codec sees it.
  if (slice?.payload && (equalBytes(slice.payload, encoded) || equalBytes(field.codec.encode(field.codec.decode(slice.payload)).finish(), encoded))) {
    return [slice.bytes];
  }
  return lengthDelimited(field.number, encoded);
}
