{% include "header.v" %}
//
// The issue stage's hazard check (bbs_sim::overlap::schedule is its
// specification). It keeps, per instruction, the cycles its read and its
// write anchor started in its last two frames (slot = frame mod 2) and how
// many frames have started, and answers for the head of each of the
// {{ p.ov.units }} units whether every wait of that instruction is met.
// An anchor is a dispatch, except for an spmv: its read anchor is its
// vector load's dispatch, its write anchor its first compute cycle.
//
// The wait table (WAIT_FILE or the host's write port, one line per instruction) holds {{ p.ov.max_waits }} entries of
// {{ p.ov.w_wait }} bits: {valid, instruction, previous_frame, of_write, gates_write, after}.
// A wait of instruction i in frame f on instruction j is met in cycle t when
// j's anchor (of_write: its write anchor, else its read anchor) of frame
// f - previous_frame has started, in cycle s, and t - s >= after (after >= 1:
// the start is seen from these registers, a cycle later). A wait on the
// previous frame in frame 0 is met. gates_write says which of i's anchors
// the wait holds back; each unit asks for the waits of its own anchor
// (q_mask_i: bit 0 read, bit 1 write). The validator makes sure that frame
// f + 2 of j never overwrites a slot a wait still needs.

module bbs_waits #(
  parameter WAIT_FILE = ""
) (
  input  wire                                         clk_i,
  input  wire                                         rst_ni,
  input  wire                                         start_i,
  // The host's write port (while idle): the wait table's line waddr_i.
  input  wire                                         we_i,
  input  wire [{{ p.ov.w_instr - 1 }}:0]              waddr_i,
  input  wire [{{ p.ov.max_waits * p.ov.w_wait - 1 }}:0] wdata_i,
  // Anchors starting this cycle, one port per unit.
  input  wire [{{ p.ov.units - 1 }}:0]                r_we_i,
  input  wire [{{ p.ov.units * p.ov.w_instr - 1 }}:0] r_instr_i,
  input  wire [{{ p.ov.units * p.ov.w_frame - 1 }}:0] r_frame_i,
  input  wire [{{ p.ov.units - 1 }}:0]                w_we_i,
  input  wire [{{ p.ov.units * p.ov.w_instr - 1 }}:0] w_instr_i,
  input  wire [{{ p.ov.units * p.ov.w_frame - 1 }}:0] w_frame_i,
  // Each unit's head and the anchors it asks for.
  input  wire [{{ p.ov.units * p.ov.w_instr - 1 }}:0] q_instr_i,
  input  wire [{{ p.ov.units * p.ov.w_frame - 1 }}:0] q_frame_i,
  input  wire [{{ p.ov.units * 2 - 1 }}:0]            q_mask_i,
  output wire [{{ p.ov.units - 1 }}:0]                met_o
);

  localparam integer NU = {{ p.ov.units }};
  localparam integer N = {{ p.imem_depth }};
  localparam integer IA = {{ p.ov.w_instr }};
  localparam integer FW = {{ p.ov.w_frame }};
  localparam integer SW = {{ p.ov.w_stamp }};
  localparam integer AFW = {{ p.ov.w_after }};
  localparam integer MW = {{ p.ov.max_waits }};
  localparam integer EW = {{ p.ov.w_wait }};

  reg [MW*EW-1:0] waits_q [0:N-1];

  generate
    if (WAIT_FILE != "") begin : g_init
      initial $readmemh(WAIT_FILE, waits_q);
    end
  endgenerate

  always @(posedge clk_i) begin
    if (we_i) begin
      waits_q[waddr_i] <= wdata_i;
    end
  end

  // Cycles since reset; stamps and waits compare modulo 2^SW.
  reg [SW-1:0] now_q;
  always @(posedge clk_i) begin
    if (!rst_ni) now_q <= {SW{1'b0}};
    else         now_q <= now_q + {{ p.ov.w_stamp }}'d1;
  end

  // Per instruction: whether an anchor started in this run (cleared by
  // start_i), the frames started modulo 4, and the start cycles of the last
  // two frames modulo 2^SW (at {instruction, frame mod 2}). Read anchors are
  // written by the units that dispatch (an instruction other than spmv has
  // one anchor, kept here), write anchors by the PE array (an spmv's first
  // compute cycle). Why so few bits: a wait on frame g is checked only
  // after the same wait of the frame before was met, so the count is g,
  // g + 1 or g + 2 (the validator refuses g + 3, and an age of 2^SW cycles
  // or more between a wait's anchor and its instruction).
  reg [N-1:0]   r_valid_q;
  reg [N-1:0]   w_valid_q;
  reg [1:0]     r_count_q [0:N-1];
  reg [1:0]     w_count_q [0:N-1];
  reg [SW-1:0]  r_stamp_q [0:2*N-1];
  reg [SW-1:0]  w_stamp_q [0:2*N-1];

  always @(posedge clk_i) begin
    if (!rst_ni) begin
      r_valid_q <= {N{1'b0}};
      w_valid_q <= {N{1'b0}};
    end else begin
      if (start_i) begin
        r_valid_q <= {N{1'b0}};
        w_valid_q <= {N{1'b0}};
      end
{%- for u in p.ov.unit_list() %}
{%- if u == 3 %}
      if (w_we_i[{{ u }}]) begin
        w_valid_q[w_instr_i[{{ u }}*IA +: IA]] <= 1'b1;
        w_count_q[w_instr_i[{{ u }}*IA +: IA]] <= w_frame_i[{{ u }}*FW +: 2] + 2'd1;
        w_stamp_q[{w_instr_i[{{ u }}*IA +: IA], w_frame_i[{{ u }}*FW]}] <= now_q;
      end
{%- else %}
      if (r_we_i[{{ u }}]) begin
        r_valid_q[r_instr_i[{{ u }}*IA +: IA]] <= 1'b1;
        r_count_q[r_instr_i[{{ u }}*IA +: IA]] <= r_frame_i[{{ u }}*FW +: 2] + 2'd1;
        r_stamp_q[{r_instr_i[{{ u }}*IA +: IA], r_frame_i[{{ u }}*FW]}] <= now_q;
      end
{%- endif %}
{%- endfor %}
    end
  end
  // The PE array has no read anchor; the others' write anchor is the read one.
  wire unused_anchor_ports = ^{r_we_i[3], r_instr_i[3*IA +: IA], r_frame_i,
                               w_we_i, w_instr_i, w_frame_i};

  genvar q;
  genvar k;
  generate
    for (q = 0; q < NU; q = q + 1) begin : g_query
      wire [IA-1:0]    instr = q_instr_i[q*IA +: IA];
      wire [FW-1:0]    frame = q_frame_i[q*FW +: FW];
      wire [MW*EW-1:0] entries = waits_q[instr];
      wire [MW-1:0]    met_k;
      for (k = 0; k < MW; k = k + 1) begin : g_wait
        wire [EW-1:0]  e = entries[k*EW +: EW];
        wire           valid = e[EW-1];
        wire [IA-1:0]  other = e[EW-2 -: IA];
        wire           previous = e[AFW+2];
        wire           of_write = e[AFW+1];
        wire           gates_write = e[AFW];
        wire [AFW-1:0] after = e[AFW-1:0];
        wire           asked = gates_write ? q_mask_i[q*2+1] : q_mask_i[q*2];
        wire           no_frame = previous && (frame == {FW{1'b0}});
        // The frame waited for, modulo 4: all the tables keep.
        wire [1:0]     g = frame[1:0] - {1'b0, previous};
        wire           seen = of_write ? w_valid_q[other] : r_valid_q[other];
        wire [1:0]     count = of_write ? w_count_q[other] : r_count_q[other];
        wire [SW-1:0]  stamp = of_write ? w_stamp_q[{other, g[0]}] : r_stamp_q[{other, g[0]}];
        // Frames started past g, modulo 4: 1 or 2 (g + 1 or g + 2 started).
        wire [1:0]     ahead = count - g;
        wire           started = !start_i && seen && (ahead == 2'd1 || ahead == 2'd2);
        wire [SW-1:0]  age = now_q - stamp;
        assign met_k[k] = !valid || !asked || no_frame ||
                          (started && (age >= { {(SW-AFW){1'b0}}, after }));
      end
      assign met_o[q] = &met_k;
    end
  endgenerate

endmodule
