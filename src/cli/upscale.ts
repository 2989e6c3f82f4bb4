/** `reprompt upscale`: img2img at twice the size; it shares its options and run with `reprompt vary`. */
export { registerUpscale as register } from './vary.js';
