"""Permissions of the allocation part of ``gpu_allocation`` (SPEC §2, §6).

Officers and administrators manage the GPU pool, start, follow and approve allocation runs.
Nobody else sees a run: refusals are answered with 404 by the views and the API.
"""

import rules

from portal.rules import is_officer

rules.add_perm("gpu_allocation.view_gpucluster", is_officer)
rules.add_perm("gpu_allocation.add_gpucluster", is_officer)
rules.add_perm("gpu_allocation.change_gpucluster", is_officer)
rules.add_perm("gpu_allocation.view_allocationrun", is_officer)
rules.add_perm("gpu_allocation.add_allocationrun", is_officer)
rules.add_perm("gpu_allocation.approve_allocationrun", is_officer)
