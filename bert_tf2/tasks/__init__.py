"""Task families behind one protocol (`base.Task`) and one runner (`runner`)."""
