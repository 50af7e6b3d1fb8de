"""Parses OpenMetrics text (stdin) with prometheus_client's strict parser
and prints its samples as one JSON object: "name{label=value,...}" -> value
(labels sorted), so that a test can look values up. Exits 1 with the
parser's words when the text is not OpenMetrics.

usage: parse_metrics.py < metrics.txt
"""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    samples = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}"] = sample.value
    except Exception as e:  # the parser raises ValueError and others
        print(f"not OpenMetrics: {e}", file=sys.stderr)
        return 1
    print(json.dumps(samples, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
