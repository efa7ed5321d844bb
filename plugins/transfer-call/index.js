// transfer_call: the host does the transfer (a `transfer_call` action, main/core/twilio/call-features.ts); the
// number is a setting, never something the LLM chooses.
export default {
  async create() {
    return {
      tools: [
        {
          name: 'transfer_call',
          description:
            'Put the caller through to a human (the owner or a member of staff). Use it when the caller asks for a person, or when you cannot help them. The caller hears a short "connecting you" line; say nothing more after calling it.',
          parameters: {
            type: 'object',
            properties: { reason: { type: 'string', description: 'Why the caller wants a person, in a few words (for the call records).' } },
            additionalProperties: false,
          },
        },
      ],
      async call(name, args) {
        if (name !== 'transfer_call') throw new Error(`transfer-call has no tool "${name}"`);
        const reason = typeof args?.reason === 'string' ? args.reason.slice(0, 200) : undefined;
        return {
          content: 'The caller is being put through to a person now. Do not say anything more.',
          actions: [{ type: 'transfer_call', ...(reason ? { reason } : {}) }],
        };
      },
    };
  },
};
