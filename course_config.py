"""The course, declared. `course` commands read this file; a typo here is a clear error, not a silent default."""

from datetime import UTC, datetime, timedelta

from aiml_course.config import (
    CertificatePolicy,
    Course,
    HubConfig,
    LatePolicy,
    Limits,
    Part,
    PeerReview,
    RubricItem,
    SandboxConfig,
)

UTC = UTC

COURSE = Course(
    id="aiml101",
    title="AI/ML from zero: numbers to GPT",
    cohorts=("2026a", "2026b"),
    parts=(
        Part("part-01-basics", title="The Absolute Basics",
             due=datetime(2026, 2, 27, 23, 59, tzinfo=UTC), weight=1.0),
        Part("part-02-first-neuron", title="Your First Neuron",
             due=datetime(2026, 3, 6, 23, 59, tzinfo=UTC), weight=1.0),
        Part("part-03-learning", title="Teaching a Neuron to Learn",
             due=datetime(2026, 3, 13, 23, 59, tzinfo=UTC), weight=1.0),
        Part("part-04-neural-networks", title="Neural Networks: Many Neurons",
             due=datetime(2026, 3, 27, 23, 59, tzinfo=UTC), weight=1.5),
        Part("part-05-real-data", title="Real Data and Practical Training",
             due=datetime(2026, 4, 10, 23, 59, tzinfo=UTC), weight=1.5),
        Part("part-06-cnns", title="Convolutional Neural Networks",
             due=datetime(2026, 4, 24, 23, 59, tzinfo=UTC), weight=1.5),
        Part("part-07-sequences", title="Sequences: RNNs and LSTMs",
             due=datetime(2026, 5, 8, 23, 59, tzinfo=UTC), weight=1.5),
        Part("part-08-attention", title="Attention and Transformers",
             due=datetime(2026, 5, 29, 23, 59, tzinfo=UTC), weight=1.5),
        Part("part-09-gpt", title="Building GPT from Scratch",
             due=datetime(2026, 6, 19, 23, 59, tzinfo=UTC), weight=1.5),
    ),
    sandbox=SandboxConfig(
        backend="auto",                  # warm fork server, else bubblewrap; "docker" with a daemon; "none" = unsafe
        limits=Limits(memory_mb=2048, pids=256, cpus=1.0, wall_seconds=600, cell_seconds=120, output_mb=64),
        workers=None,                    # None: one per core, as many as fit in memory at memory_mb each
    ),
    late_policy=LatePolicy(grace=timedelta(minutes=15), penalty_per_day=0.10, max_penalty=0.50,
                           cutoff=timedelta(days=7)),
    peer_review=PeerReview(
        reviews_per_submission=3,
        rubric=(
            RubricItem("correctness", "Does the code do what the project asks?", 4),
            RubricItem("clarity", "Could a classmate follow the notebook from top to bottom?", 4),
            RubricItem("exploration", "Did the author try and explain their own experiments?", 4),
        ),
    ),
    certificate=CertificatePolicy(min_part_fraction=0.70, min_reviews_done=0),
    hub=HubConfig(memory_mb=4096, cpus=2.0, pids=1024, idle_minutes=60),  # each student's server on the hub
    data_dir="~/.cache/aiml-course/data",
)
