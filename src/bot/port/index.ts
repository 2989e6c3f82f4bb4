export * from './message.js';
export * from './interaction.js';
