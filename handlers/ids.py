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
# The asker's topics of a question (value: the question id)
EDIT_TOPICS = "question_edit_topics"
EDIT_TOPICS_MODAL = "question_topics_modal"
TOPICS_BLOCK, TOPICS_INPUT = "topics", "text"
# The expert's own settings
EXPERT_MODAL = "expert_settings_modal"
# Suggestions in a new question's thread (value: "<new question id>:<suggested question id>:<answer id>")
SOLVED = "suggestion_solved"
STILL_NEED_HELP = "suggestion_still_need_help"
# Freshness check of an old answer (value: the answer id)
STILL_RIGHT = "freshness_still_right"
NEEDS_UPDATE = "freshness_needs_update"
# Onboarding nudges (value: the nudge ids of the message, comma-separated)
NUDGE_DONE = "onboarding_done"
NUDGE_SNOOZE = "onboarding_snooze"
NUDGE_STOP = "onboarding_stop"
ONBOARD_TOPICS = "onboarding_topics"  # a multi-select; its block_id carries the enrolment id
ONBOARD_TOPICS_BLOCK = "onboarding_topics:"
# Digests
DIGEST_ANSWER = "digest_answer"  # value: the question id; opens the same answer modal as routing
DIGEST_ANSWER_MODAL = "digest_answer_modal"
DIGEST_OPT_OUT = "digest_opt_out"
# App Home
HOME_PAGE = "home_page"  # value: "questions:<page>"
HOME_EXPERT_SETTINGS = "home_expert_settings"
