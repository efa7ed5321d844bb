/** The μ-law codec, for the engine: it lives in main/shared/mulaw.ts because the GUI uses the same one. */
export * from '../../shared/mulaw.ts';
