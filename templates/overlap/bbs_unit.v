{% include "header.v" %}
//
// A unit that runs over a vector: the DMA-in and DMA-out engines, the
// EWOP and ACT lanes, and the SpMxV vector load. It takes the head of its
// issue list (bbs_issue) in the first cycle it is free and ready_i (the
// head's waits, bbs_waits, and the top's own conditions), latches the
// instruction (the dispatch cycle), then offers one step of STEP elements
// per cycle (run_o), moving on whenever fire_i, until count_i elements
// (decoded by the top from instr_o) are covered. In the cycle after the
// last step it takes the next head: an instruction keeps the unit
// 1 + ceil(count / STEP) cycles, plus the cycles fire_i is low
// (bbs_sim::arch::timing; a DMA beat fires when the host answers).

module bbs_unit #(
  parameter integer STEP = 1
) (
  input  wire                              clk_i,
  input  wire                              rst_ni,
  input  wire                              head_valid_i,
  input  wire [{{ p.ov.w_instr - 1 }}:0]   head_instr_i,
  input  wire [{{ p.ov.w_frame - 1 }}:0]   head_frame_i,
  input  wire [{{ p.w.instr - 1 }}:0]      head_word_i,
  input  wire                              ready_i,
  input  wire                              fire_i,
  input  wire [{{ p.w.addr_sum - 1 }}:0]        count_i,
  output wire                              dispatch_o,
  output wire                              run_o,
  output wire                              last_o,
  output wire [{{ p.w.addr_sum - 1 }}:0]        off_o,
  output wire [{{ p.w.instr - 1 }}:0]      instr_o,
  output wire [{{ p.ov.w_instr - 1 }}:0]   index_o,
  output wire [{{ p.ov.w_frame - 1 }}:0]   frame_o
);

  localparam integer OW = {{ p.w.addr_sum }};
  localparam [OW-1:0] Step = STEP[OW-1:0];

  reg                            run_q;
  reg [OW-1:0]                   off_q;
  reg [{{ p.w.instr - 1 }}:0]    instr_q;
  reg [{{ p.ov.w_instr - 1 }}:0] index_q;
  reg [{{ p.ov.w_frame - 1 }}:0] frame_q;

  wire dispatch = !run_q && head_valid_i && ready_i;
  wire last = run_q && fire_i && (off_q + Step >= count_i);

  always @(posedge clk_i) begin
    if (!rst_ni) begin
      run_q   <= 1'b0;
      off_q   <= {OW{1'b0}};
      instr_q <= {{ p.w.instr }}'d0;
      index_q <= {{ p.ov.w_instr }}'d0;
      frame_q <= {{ p.ov.w_frame }}'d0;
    end else if (dispatch) begin
      run_q   <= 1'b1;
      off_q   <= {OW{1'b0}};
      instr_q <= head_word_i;
      index_q <= head_instr_i;
      frame_q <= head_frame_i;
    end else if (run_q && fire_i) begin
      off_q <= off_q + Step;
      if (last) run_q <= 1'b0;
    end
  end

  assign dispatch_o = dispatch;
  assign run_o      = run_q;
  assign last_o     = last;
  assign off_o      = off_q;
  assign instr_o    = instr_q;
  assign index_o    = index_q;
  assign frame_o    = frame_q;

endmodule
