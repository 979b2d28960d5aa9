"""People who sign in to the admin UI: users, their roles and their sessions."""
