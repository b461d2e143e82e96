"""How much work ``invoke bench`` does in each part: the full plan, and the smoke plan tests run."""

from __future__ import annotations

from dataclasses import dataclass

from ops.bench.report import LOAD_GOAL_CLIENTS, LOAD_GOAL_REQUESTS, SIZING_HEADROOM


@dataclass(frozen=True)
class BenchPlan:
    """How much load each case gets; ``smoke`` keeps every number tiny so tests can run it."""

    requests: int = 20_000  # per case; whichever bound comes first ends it
    seconds: float = 10.0
    batches: tuple[int, ...] = (1, 10, 100)
    concurrency: tuple[int, ...] = (1, 8)
    workers: tuple[int, ...] = (1, 2)  # endpoint processes; more than 1 is loaded at the top concurrency
    load_requests: int = LOAD_GOAL_REQUESTS  # the load test of the whole stack, through the API
    load_clients: int = LOAD_GOAL_CLIENTS
    load_seconds: float = 300.0  # its bound: it stops here even if fewer requests were sent
    open_loop_share: float = SIZING_HEADROOM  # the open-loop load's rate: this share of the closed loop's
    # the serving stack's local API processes (0: one per core): AWS runs concurrent requests apart, and one
    # process's threads run the handler (mostly its boto3 call) on one core
    api_workers: int = 0
    # real texts for the speed goals (the train rows, cycled): in-process and bulk on all of them, the
    # tokenizers on the first TOKENIZER_TEXTS. 100,000: on a quiet 2-core machine in-process tokenize +
    # predict does 20,000 in about 0.6 s, shorter than a bulk run's start-up (reading and hashing the
    # input, the worker processes, boto3's import), so 20,000 measured the start-up, not bulk throughput
    speed_texts: int = 100_000
    bulk_batches: tuple[int, ...] = (100, 250, 500, 1000)  # `invoke classify --batch-size`, each measured
    speed_repeats: int = 3  # runs of each speed figure; the median is reported
    # fastText seeds trained besides the pipeline's own (multi-threaded fastText is not deterministic,
    # and one run's test accuracy moves by a few rows): the quality goal is judged on the mean
    extra_seeds: tuple[int, ...] = (1, 2, 3, 4)
    cold_starts: int = 7  # fresh handler processes, each timed on its first request
    warm_requests: int = 500  # then requests one at a time to the last of them
    model_loads: int = 7  # fresh processes timing fastText's load of the deployed model
    # the smoke run's small model: rows a class and dropout copies (None: the settings' own)
    max_rows_per_class: int | None = None
    dropout_views: int | None = None
    epochs: int | None = None
    smoke: bool = False

    @classmethod
    def smoke_plan(cls) -> BenchPlan:
        return cls(
            requests=20,
            seconds=5.0,
            batches=(1, 10),
            concurrency=(1, 2),
            speed_texts=60,
            bulk_batches=(25,),
            speed_repeats=1,
            load_requests=200,
            load_clients=4,
            load_seconds=30.0,
            extra_seeds=(1,),
            cold_starts=2,
            warm_requests=20,
            model_loads=2,
            max_rows_per_class=150,
            dropout_views=2,
            epochs=3,
            smoke=True,
        )
