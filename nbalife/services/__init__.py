"""Operations the CLI and cron call: plain functions over explicit inputs, returning dataclasses."""
