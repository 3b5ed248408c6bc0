"""Operations of approvals, one module per concept: the policy, sign-offs, decisions and
reminders."""
