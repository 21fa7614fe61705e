import os

from hypothesis import settings

# CI explores a fixed sequence of examples (a submission must not land or fail by luck); local
# runs draw new examples each time, so the search for counterexamples goes on.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
