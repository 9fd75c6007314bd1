"""get_job's path: validate the request (validation.py), fetch through the cache (cache.py), answer
(handler.py, answers.py)."""
