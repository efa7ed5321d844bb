// take_message: the host keeps the message (a `take_message` action, main/core/tools/actions.ts): in the records,
// the GUI inbox and the export. The callback number defaults to the caller's own number.
export default {
  async create() {
    return {
      tools: [
        {
          name: 'take_message',
          description:
            'Take a message for the person the caller wants to reach, when that person is not available or the caller asks to leave a message. First ask for their name and what the message is; then call this once with the message in their words.',
          parameters: {
            type: 'object',
            properties: {
              name: { type: 'string', maxLength: 200, description: "The caller's name, as they said it." },
              callback: { type: 'string', maxLength: 40, description: 'The number to call back, if the caller gave one; leave it out to use the number they are calling from.' },
              message: { type: 'string', minLength: 1, maxLength: 2000, description: 'The message itself, in the caller’s words.' },
            },
            required: ['message'],
            additionalProperties: false,
          },
        },
      ],
      async call(name, args, { call }) {
        if (name !== 'take_message') throw new Error(`take-message has no tool "${name}"`);
        const text = (v) => (typeof v === 'string' ? v.trim() : '');
        const message = text(args?.message);
        if (!message) throw new Error('the message is empty: ask the caller what the message is, then call take_message again');
        const callback = text(args?.callback) || call?.from || '';
        const who = text(args?.name);
        return {
          content: `Message taken${who ? ` from ${who}` : ''}${callback ? `, callback ${callback}` : ''}. Tell the caller it will be passed on.`,
          actions: [{ type: 'take_message', name: who, callback, message }],
        };
      },
    };
  },
};
