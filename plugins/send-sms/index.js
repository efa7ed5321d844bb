// send_sms: the host sends the message (a `send_sms` action, main/core/twilio/call-features.ts) and decides who
// may be texted: the caller's own number, unless the smsToAnyNumber setting allows any.
export default {
  async create() {
    return {
      tools: [
        {
          name: 'send_sms',
          description:
            "Send the caller a text message, for example a summary of the call, an address or opening hours. It goes to the caller's own number unless they ask for another one.",
          parameters: {
            type: 'object',
            properties: {
              body: { type: 'string', description: 'The text of the message: short and plain, at most 1600 characters.' },
              to: { type: 'string', description: "Another number in E.164 form (+15551234567), only if the caller asked for it. Leave out to text the caller." },
            },
            required: ['body'],
            additionalProperties: false,
          },
        },
      ],
      async call(name, args) {
        if (name !== 'send_sms') throw new Error(`send-sms has no tool "${name}"`);
        const body = typeof args?.body === 'string' ? args.body.trim() : '';
        if (!body) throw new Error('send_sms needs a "body": the text of the message');
        const to = typeof args?.to === 'string' && args.to.trim() ? args.to.trim() : undefined;
        return { content: 'Sending the text message.', actions: [{ type: 'send_sms', body, ...(to ? { to } : {}) }] };
      },
    };
  },
};
