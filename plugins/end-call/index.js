// end_call: the host ends the call once the goodbye that follows the tool has been spoken (an `end_call` action,
// main/core/tools/actions.ts): it closes the media stream, which ends a <Connect><Stream> call, and hangs up
// through Twilio's REST API when Twilio is set up.
export default {
  async create() {
    return {
      tools: [
        {
          name: 'end_call',
          description:
            'Hang up the phone call. Use it when the caller says goodbye, says they are done, or asks you to end the call. After calling it, say a short goodbye: the call ends when you have said it.',
          parameters: {
            type: 'object',
            properties: {
              reason: { type: 'string', maxLength: 200, description: 'Why the call is ending, in a few words, e.g. "the caller said goodbye".' },
            },
            additionalProperties: false,
          },
        },
      ],
      async call(name, args) {
        if (name !== 'end_call') throw new Error(`end-call has no tool "${name}"`);
        const reason = typeof args?.reason === 'string' && args.reason.trim() ? args.reason.trim().slice(0, 200) : 'the agent ended the call';
        return { content: 'The call will end after your next reply. Say a short goodbye now.', actions: [{ type: 'end_call', reason }] };
      },
    };
  },
};
