"""Generation and restoration for the job system: inputs from the catalog, outputs into it.

One module per concern (import from the module, not from this package):

* :mod:`.targets` — what a job may work on: the CLI's targets (files, folders, ``#ID``,
  ``--library``/``--tag``) turned into catalog ids, and the path safety of every source file;
* :mod:`.sources` — loading a source image (EXIF orientation, size limits, corrupt files);
* :mod:`.masks` — user masks, stored content-addressed under ``<data>/masks``, and rectangles;
* :mod:`.outputs` — writing outputs: PNG with provenance, Image and Lineage rows, CLIP vector;
* :mod:`.recipe` — the restoration recipe's options, one table of job parameters;
* :mod:`.operations` — the diffusion operations (generate, translate, edit, inpaint, upscale);
* :mod:`.restore` — batch restoration and its resume chain over retried jobs.

What a job gets is catalog ids, never a path a client chose. Originals are only ever read.
"""
