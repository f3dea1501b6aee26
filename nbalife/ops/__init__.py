"""Operations: the cron schedule, the live-game freeze and notifications."""
