{% include "header.v" %}
//
// One unit's issue list: the instructions the unit takes, in issue order,
// over `frames_i` frames of the program (bbs_sim::overlap::issue_sequence).
// The list memory ({{ p.ov.list_depth }} words of 16 bits, from INIT_FILE or the host's
// write port) holds
//   word 0, 1, 2   P, B, E: the lengths of the three segments below
//   then           the prologue (P entries: those the first frame issues
//                  ahead), the body (B entries: one frame's issue order,
//                  run frames_i - 1 times) and the epilogue (E entries: the
//                  last frame's own instructions).
// An entry is {next_frame, instruction[14:0]}: the body's entries with
// next_frame belong to the frame after the one being issued. The segments
// are written out so that the walk never skips an entry: the unit's next
// instruction is ready the cycle it is free, as in the cycle model.
// In the start cycle the head is the first entry already (a unit may
// dispatch in the start cycle, the simulator's cycle 0).

module bbs_issue #(
  parameter INIT_FILE = ""
) (
  input  wire                           clk_i,
  input  wire                           rst_ni,
  input  wire                           start_i,
  input  wire [{{ p.ov.w_frame - 1 }}:0] frames_i,
  // The host's write port (while idle): word waddr_i of the list.
  input  wire                           we_i,
  input  wire [{{ p.ov.w_list - 1 }}:0] waddr_i,
  input  wire [15:0]                    wdata_i,
  // The head is dispatched this cycle: move on.
  input  wire                           advance_i,
  output wire                           head_valid_o,
  // The list is walked to its end (from the registers: not in the start cycle).
  output wire                           idle_o,
  output wire [{{ p.ov.w_instr - 1 }}:0] head_instr_o,
  output wire [{{ p.ov.w_frame - 1 }}:0] head_frame_o
);

  localparam integer FW = {{ p.ov.w_frame }};
  localparam integer LW = {{ p.ov.w_list }};
  localparam [1:0] SegPro  = 2'd0;
  localparam [1:0] SegBody = 2'd1;
  localparam [1:0] SegEpi  = 2'd2;
  localparam [1:0] SegDone = 2'd3;

  reg [15:0] list_q [0:{{ p.ov.list_depth - 1 }}];

  generate
    if (INIT_FILE != "") begin : g_init
      initial $readmemh(INIT_FILE, list_q);
    end
  endgenerate

  always @(posedge clk_i) begin
    if (we_i) begin
      list_q[waddr_i] <= wdata_i;
    end
  end

  wire [15:0] len_pro  = list_q[0];
  wire [15:0] len_body = list_q[1];
  wire [15:0] len_epi  = list_q[2];

  reg [1:0]    seg_q;
  reg [15:0]   pos_q;
  reg [FW-1:0] iter_q;

  // After the prologue: the body if a second frame exists, else the epilogue.
  wire [1:0] seg_after_pro = (frames_i > {{ p.ov.w_frame }}'d1 && len_body != 16'd0) ? SegBody :
                             (len_epi != 16'd0) ? SegEpi : SegDone;
  wire [1:0] seg_init = (frames_i == {{ p.ov.w_frame }}'d0) ? SegDone :
                        (len_pro != 16'd0) ? SegPro : seg_after_pro;

  // This cycle's walk position: the first entry in the start cycle.
  wire [1:0]    seg  = start_i ? seg_init : seg_q;
  wire [15:0]   pos  = start_i ? 16'd0 : pos_q;
  wire [FW-1:0] iter = start_i ? {FW{1'b0}} : iter_q;

  reg [15:0] seg_len;
  reg [15:0] seg_base;
  always @(*) begin
    case (seg)
      SegPro:  begin seg_len = len_pro;  seg_base = 16'd3; end
      SegBody: begin seg_len = len_body; seg_base = 16'd3 + len_pro; end
      SegEpi:  begin seg_len = len_epi;  seg_base = 16'd3 + len_pro + len_body; end
      default: begin seg_len = 16'd0;    seg_base = 16'd0; end
    endcase
  end

  wire [15:0] addr16 = seg_base + pos;
  wire [LW-1:0] addr = addr16[LW-1:0];
  wire unused_addr_bits = ^addr16;
  wire [15:0] entry = list_q[addr];
  wire next_frame = entry[15];

  reg [FW-1:0] frame;
  always @(*) begin
    case (seg)
      SegPro:  frame = {FW{1'b0}};
      SegBody: frame = iter + { {(FW-1){1'b0}}, next_frame };
      default: frame = frames_i - {{ p.ov.w_frame }}'d1;
    endcase
  end

  // The walk after the head is dispatched.
  reg [1:0]    seg_d;
  reg [15:0]   pos_d;
  reg [FW-1:0] iter_d;
  wire seg_end = (pos + 16'd1 == seg_len);
  always @(*) begin
    seg_d  = seg;
    pos_d  = pos;
    iter_d = iter;
    if (advance_i) begin
      pos_d = pos + 16'd1;
      if (seg_end) begin
        pos_d = 16'd0;
        case (seg)
          SegPro: seg_d = seg_after_pro;
          SegBody: begin
            if (iter + {{ p.ov.w_frame }}'d2 < frames_i) begin
              iter_d = iter + {{ p.ov.w_frame }}'d1;
            end else begin
              seg_d = (len_epi != 16'd0) ? SegEpi : SegDone;
            end
          end
          default: seg_d = SegDone;
        endcase
      end
    end
  end

  always @(posedge clk_i) begin
    if (!rst_ni) begin
      seg_q  <= SegDone;
      pos_q  <= 16'd0;
      iter_q <= {FW{1'b0}};
    end else begin
      seg_q  <= seg_d;
      pos_q  <= pos_d;
      iter_q <= iter_d;
    end
  end

  assign head_valid_o = (seg != SegDone);
  assign idle_o       = (seg_q == SegDone);
  assign head_instr_o = entry[{{ p.ov.w_instr - 1 }}:0];
  assign head_frame_o = frame;
  wire unused_entry_bits = ^entry[14:{{ p.ov.w_instr }}];

endmodule
