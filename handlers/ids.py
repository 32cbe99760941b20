"""Every action_id, callback_id and command name the bot registers, in one place."""

COMMAND = "/peerbot"
ASK_SHORTCUT = "ask_peerbot"
