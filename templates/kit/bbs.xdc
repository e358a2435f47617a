{% include "kit/header.txt" %}
#
# The accelerator has one clock, clk_i, at the configuration's host.clock_mhz
# ({{ p.clock_mhz }} MHz). vivado.tcl synthesizes it out of context (a core for a
# larger design), so no I/O delays or pin locations are constrained here.

create_clock -name clk_i -period {{ p.period_ns }} [get_ports clk_i]
