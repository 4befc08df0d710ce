# Authentication events, MAU counters and meter readings live here (metering issue).
