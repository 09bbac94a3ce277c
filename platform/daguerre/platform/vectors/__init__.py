"""Where the vectors of each embedding model live: FAISS files or PostgreSQL with pgvector.

* :mod:`.backend`: the one store interface (:class:`~.backend.VectorBackend`) and the choice
  of backend from the settings (``vector_store`` = auto | faiss | pgvector).
* :mod:`.pgvector`: the pgvector store, one table per model in the catalog database.
* :mod:`.migrate`: copying stored embeddings from one backend to the other, resumably.

The FAISS store is :class:`daguerre.indexer.store.VectorStore` (a library, no database); the
pgvector store needs the catalog's database, so it lives here in the platform.
"""
