// press_keys: the host plays the keys as DTMF tones on the call's stream (a `press_keys` action,
// main/core/audio/dtmf.ts says why in-band tones rather than a TwiML update).
export default {
  async create() {
    return {
      tools: [
        {
          name: 'press_keys',
          description:
            'Press keys on the phone keypad, to get through an automated phone menu ("press 1 for sales") on a call you placed. Use only when a recorded menu asks for a key.',
          parameters: {
            type: 'object',
            properties: {
              digits: { type: 'string', pattern: '^[0-9*#wA-D]{1,64}$', description: 'The keys in order: 0-9, * and #; w waits half a second.' },
            },
            required: ['digits'],
            additionalProperties: false,
          },
        },
      ],
      async call(name, args, { call }) {
        if (name !== 'press_keys') throw new Error(`press-keys has no tool "${name}"`);
        const digits = typeof args?.digits === 'string' ? args.digits.replace(/[\s-]/g, '') : '';
        if (!/^[0-9*#wA-D]{1,64}$/.test(digits)) throw new Error(`"${args?.digits}" is not a key sequence: use 0-9, * and #, and w for a half-second pause`);
        if (call?.direction === 'inbound') return 'Key presses are for phone menus on calls you place; this caller called you, so nothing was pressed.';
        return { content: `Pressed ${digits.split('').join(' ')}.`, actions: [{ type: 'press_keys', digits }] };
      },
    };
  },
};
