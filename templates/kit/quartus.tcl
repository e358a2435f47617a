{% include "kit/header.txt" %}
#
# Run as is, from any directory:
#   quartus_sh -t quartus.tcl
# It creates the project {{ p.project }} in build/quartus/ beside this script
# ({{ p.quartus_family }}, {{ p.quartus_device }}), adds the RTL, the clock
# constraints and the memory images, and compiles it (analysis and
# synthesis, fitter, timing analysis); the reports are in
# build/quartus/output_files/. The top's ports are virtual pins: the
# accelerator is a core for a larger design and has more ports than a
# package has pins.

load_package flow

set here [file dirname [file normalize [info script]]]
set build [file join $here build quartus]
file mkdir $build
cd $build

project_new {{ p.project }} -overwrite
set_global_assignment -name FAMILY "{{ p.quartus_family }}"
set_global_assignment -name DEVICE {{ p.quartus_device }}
set_global_assignment -name TOP_LEVEL_ENTITY {{ p.top }}
set_global_assignment -name PROJECT_OUTPUT_DIRECTORY output_files

# The RTL, one module per file.
{%- for f in p.rtl %}
set_global_assignment -name VERILOG_FILE [file join $here {{ f }}]
{%- endfor %}

# The clock: clk_i at {{ p.clock_mhz }} MHz ({{ p.period_ns }} ns).
set_global_assignment -name SDC_FILE [file join $here {{ p.sdc }}]

# The $readmemh images: Quartus opens them relative to the project directory.
{%- for m in p.mem %}
file copy -force [file join $here {{ m.path }}] [file join $build {{ m.name }}]
{%- endfor %}

# Every port but the clock is a virtual pin.
{%- for port in p.ports %}
{%- if port.bus %}
set_instance_assignment -name VIRTUAL_PIN ON -to {{ "{" }}{{ port.name }}[*]{{ "}" }}
{%- else %}
set_instance_assignment -name VIRTUAL_PIN ON -to {{ port.name }}
{%- endif %}
{%- endfor %}

export_assignments
execute_flow -compile
project_close
