"""The production core: a take rendered, coloured, scored and stored; shot leases, inputs and
identity anchors; the cut; status and summaries. No Prefect: callers (`flows/`) pass settings,
the lease length and the GPU slot as values (the answer cache's folder is still read from
``STORYREEL_CACHE`` in `production.expansion`)."""
