"""How much each benchmark measures: the full run (about 100 s on 2 cores) and ``--quick`` (a smoke run)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    quick: bool
    acs_calls: int  # DescribeRegions per client per round, over the network
    acs_rounds: int
    oss_calls: int  # put_object (and get_object) per client per round, over the network
    oss_rounds: int
    cpu_calls: int  # DescribeRegions per client per round, against the canned response
    cpu_oss_calls: int  # the same for put_object and get_object
    cpu_rounds: int
    provider_calls: int  # get_credentials() per measurement (one thread, or shared by eight)
    provider_rounds: int
    rotation_rounds: int  # rotations
    rotation_threads: int
    clients: int  # for the many-clients figure
    startup_runs: int  # new processes per program and kind of install
    startup_installs: bool  # build venvs: a wheel and editable installs (else the source tree, this interpreter)
    import_runs: int  # new processes timing `import credentials, proxy`, per kind of install
    fleet_processes: int
    fleet_hours_after: float  # simulated time after the rotation
    fleet_seeds: int  # fleets simulated (random seeds 0, 1, ...)
    fleet_revocation_sizes: tuple  # fleets simulated through an emergency revocation under KMS's quota


FULL = Settings(
    quick=False,
    acs_calls=500,
    acs_rounds=7,
    oss_calls=150,
    oss_rounds=9,
    cpu_calls=400,
    cpu_oss_calls=200,
    cpu_rounds=9,
    provider_calls=600_000,
    provider_rounds=9,
    rotation_rounds=7,
    rotation_threads=8,
    clients=1000,
    startup_runs=30,
    startup_installs=True,
    import_runs=20,
    fleet_processes=10_000,
    fleet_hours_after=3.0,
    fleet_seeds=5,
    fleet_revocation_sizes=(1_000, 10_000, 50_000),
)

QUICK = Settings(
    quick=True,
    acs_calls=20,
    acs_rounds=2,
    oss_calls=10,
    oss_rounds=2,
    cpu_calls=20,
    cpu_oss_calls=10,
    cpu_rounds=2,
    provider_calls=2_000,
    provider_rounds=2,
    rotation_rounds=1,
    rotation_threads=4,
    clients=20,
    startup_runs=1,
    startup_installs=False,
    import_runs=1,
    fleet_processes=200,
    fleet_hours_after=1.0,
    fleet_seeds=1,
    fleet_revocation_sizes=(1_000,),
)
