/**
 * Which execution providers this installation of onnxruntime-node can run, asked of onnxruntime-node itself
 * (listSupportedBackends), so that a setting naming a provider is checked against the real list at start.
 */
import { listSupportedBackends } from 'onnxruntime-node';
import { UserError } from './errors.js';
import { PROVIDERS, type ProviderName } from './onnx/session.js';

/** The providers the engine knows that this onnxruntime-node build lists, in the engine's order. */
export function availableProviders(): ProviderName[] {
  const listed = new Set(listSupportedBackends().map((backend) => backend.name));
  return PROVIDERS.filter((provider) => listed.has(provider));
}

/** `value` as a provider of this installation; UserError('provider') naming `setting` (a variable or option) otherwise. */
export function parseProvider(value: string, setting: string): ProviderName {
  const available = availableProviders();
  const found = available.find((provider) => provider === value);
  if (!found) throw new UserError('provider', `${setting} must be one of ${available.join(', ')} (the execution providers this onnxruntime-node lists), got "${value}".`);
  return found;
}
