/** Image sides (pixels) and step counts the pipeline accepts; layers above show them to users. No ONNX Runtime here. */
export const SIZE_RANGE = { min: 64, max: 2048 } as const;
export const STEPS_RANGE = { min: 1, max: 150 } as const;
