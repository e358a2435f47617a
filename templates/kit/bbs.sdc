{% include "kit/header.txt" %}
#
# The accelerator has one clock, clk_i, at the configuration's host.clock_mhz
# ({{ p.clock_mhz }} MHz). Its ports are virtual pins in quartus.tcl (a core for a
# larger design), so no I/O delays are constrained here.

create_clock -name clk_i -period {{ p.period_ns }} [get_ports {clk_i}]
derive_clock_uncertainty
