# SPDX-License-Identifier: GPL-2.0
"""The downtime benchmark, split the way QEMU's guestperf is.

scenario
    what one migration is (a dataclass) and the matrices of them
engine
    runs a scenario in the test VM: the link, the device, the guests,
    QMP, the tracepoints, the memory check; returns the raw record
metrics
    every number the report shows, each computed from the raw record in
    one place (adding a metric is one entry there)
report
    raw records to the markdown table, the targets and --compare
plot
    the PNG plots (gnuplot)

bench/downtime is the command line.
"""
