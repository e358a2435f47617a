{% include "kit/header.txt" %}
#
# Run as is, from any directory:
#   vivado -mode batch -source vivado.tcl
# It creates the project {{ p.project }} in build/vivado/ beside this script
# ({{ p.vivado_part }}), adds the RTL, the clock constraints and the memory
# images, synthesizes and implements it out of context (the accelerator is a
# core for a larger design and has more ports than a package has pins) and
# writes the utilization and timing reports to build/vivado/.

set here [file dirname [file normalize [info script]]]
set build [file join $here build vivado]

create_project -force {{ p.project }} $build -part {{ p.vivado_part }}
set_property target_language Verilog [current_project]

# The RTL, one module per file.
add_files -norecurse [list \
{%- for f in p.rtl %}
  [file join $here {{ f }}] \
{%- endfor %}
]
set_property top {{ p.top }} [current_fileset]

# The clock: clk_i at {{ p.clock_mhz }} MHz ({{ p.period_ns }} ns).
add_files -fileset constrs_1 -norecurse [file join $here {{ p.xdc }}]

# The $readmemh images, found by name as memory initialization files.
set mem [list \
{%- for m in p.mem %}
  [file join $here {{ m.path }}] \
{%- endfor %}
]
add_files -norecurse $mem
set_property file_type {Memory Initialization Files} [get_files $mem]

set_property -name {STEPS.SYNTH_DESIGN.ARGS.MORE OPTIONS} -value {-mode out_of_context} -objects [get_runs synth_1]

launch_runs synth_1 -jobs 2
wait_on_run synth_1
if {[get_property PROGRESS [get_runs synth_1]] != "100%"} {
  error "synth_1 failed: see [get_property DIRECTORY [get_runs synth_1]]"
}
launch_runs impl_1 -jobs 2
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] != "100%"} {
  error "impl_1 failed: see [get_property DIRECTORY [get_runs impl_1]]"
}
open_run impl_1
report_utilization -file [file join $build utilization.rpt]
report_timing_summary -file [file join $build timing.rpt]
