"""Infrastructure any app may use (storage, database router, middleware); imports no app of ours."""
