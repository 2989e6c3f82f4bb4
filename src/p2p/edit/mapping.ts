/**
 * Every P2P cross-attention rule, written as one linear form. Inside the replacement window the edited row's
 * attention is
 *
 *     R = M0 @ S + Mb ⊙ O          (M0: the source's map [H, Q, K], Mb: the row's own map, S [K, K], O [K])
 *
 * and the time window α (per token, this call) blends it with the row's own map: out = R ⊙ α + Mb ⊙ (1 − α), i.e.
 *
 *     out = M0 @ (S ⊙ α) + Mb ⊙ (O ⊙ α + 1 − α)      (α and O act on the columns n)
 *
 * which is what the patched UNet computes from p2p_cross_weight W = S ⊙ α and p2p_cross_keep D = O ⊙ α + 1 − α.
 *
 *   replace   S = A (replacement mapper), O = 0
 *   refine    S[w, n] = [mapper[n] = w]·alphas[n], O = 1 − alphas
 *   reweight  on top of a base (S0, O0), or the identity mapping (I, 0) when the prompts are the same:
 *             R = (M0 @ S0 + Mb ⊙ O0) ⊙ E  ⇒  S = S0 ⊙ E, O = O0 ⊙ E (columns scaled by the equalizer)
 */
import { buildEqualizer } from './equalizer.js';
import type { ParsedEdit } from './language.js';
import { refinementMapper } from './refine.js';
import { replacementMapper } from './replace.js';
import type { EditTokenizer } from './words.js';

export interface LinearMapping {
  /** S, row-major [K, K]: S[w, n] = how much source token w feeds edited token n. */
  fromSource: Float32Array;
  /** O [K]: how much of the row's own attention stays inside the window. */
  fromOwn: Float32Array;
}

function identityMapping(size: number): LinearMapping {
  const fromSource = new Float32Array(size * size);
  for (let k = 0; k < size; k++) fromSource[k * size + k] = 1;
  return { fromSource, fromOwn: new Float32Array(size) };
}

function replaceMapping(mapper: Float32Array, size: number): LinearMapping {
  return { fromSource: mapper, fromOwn: new Float32Array(size) };
}

function refineMapping(mapper: Int32Array, alphas: Float32Array): LinearMapping {
  const size = mapper.length;
  const fromSource = new Float32Array(size * size);
  const fromOwn = new Float32Array(size);
  for (let n = 0; n < size; n++) {
    // mapper −1 marks an inserted token; its alpha is 0, so it takes nothing from the source.
    if (mapper[n] >= 0) fromSource[mapper[n] * size + n] = alphas[n];
    fromOwn[n] = 1 - alphas[n];
  }
  return { fromSource, fromOwn };
}

/** Scales the columns of a mapping by the equalizer (re-weighting on top of it). */
function reweightMapping(base: LinearMapping, equalizer: Float32Array): LinearMapping {
  const size = equalizer.length;
  const fromSource = base.fromSource.map((v, i) => v * equalizer[i % size]);
  const fromOwn = base.fromOwn.map((v, n) => v * equalizer[n]);
  return { fromSource, fromOwn };
}

export interface EditMapping extends LinearMapping {
  /** E [K] (ones when the edit has no weights). */
  equalizer: Float32Array;
}

/** The full mapping of a parsed edit: its mode's base mapping, re-weighted by its word weights. */
export function editMapping(edit: ParsedEdit, tokenizer: EditTokenizer, options: { referenceTailBug?: boolean } = {}): EditMapping {
  const size = tokenizer.maxLength;
  let base: LinearMapping;
  if (edit.mode === 'replace') base = replaceMapping(replacementMapper(edit.source, edit.target, tokenizer, options), size);
  else if (edit.mode === 'refine') {
    const { mapper, alphas } = refinementMapper(edit.source, edit.target, tokenizer);
    base = refineMapping(mapper, alphas);
  } else base = identityMapping(size);
  const equalizer = buildEqualizer(edit.target, edit.weights, tokenizer);
  return { ...reweightMapping(base, equalizer), equalizer };
}
