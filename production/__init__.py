"""The production core: a take rendered, coloured, scored and stored; shot leases, inputs and
identity anchors; the cut; status and summaries. No Prefect and no environment: callers
(`flows/`) pass settings, the lease length and the GPU slot as values."""
