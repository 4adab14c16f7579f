"""Live chat with agents: chats, messages, runs, usage and quotas."""
