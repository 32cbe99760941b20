"""Every action_id, callback_id and command name the bot registers, in one place."""

COMMAND = "/peerbot"
ASK_SHORTCUT = "ask_peerbot"

# The expert's DM about a question (value: the assignment id)
ANSWER = "routing_answer"
PASS = "routing_pass"
SNOOZE = "routing_snooze"
SUGGEST = "routing_suggest"
# Modals
ANSWER_MODAL = "routing_answer_modal"
PASS_MODAL = "routing_pass_modal"
ANSWER_BLOCK, ANSWER_INPUT = "answer", "text"
REASON_BLOCK, REASON_INPUT = "reason", "text"
