"""Asynchronous jobs: the catalog row is the truth, Celery carries only the job id.

Modules: :mod:`.service` (create, list, cancel, retry — what the CLI and the API call),
:mod:`.registry` (job kinds and their parameters), :mod:`.kinds` (the built-in kinds),
:mod:`.lease` (claiming a job and holding it), :mod:`.runner` (running one claimed job),
:mod:`.sweeper` (finding jobs whose worker died), :mod:`.celery_app` (the Celery application),
:mod:`.tasks` (the one Celery task). Nothing heavy is imported here.
"""
