# TEMPORARY local stub until the notifications branch merges (never committed)
NOTES = []
def notify(user_ids, kind, title, *, body=None, link=None):
    NOTES.append((list(user_ids), kind, title, body, link))
