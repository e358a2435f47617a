{% include "header.v" %}
//
// The host's register block (32-bit registers, word addresses):
//   0 CTRL    W   bit 0: start the program (ignored while busy)
//   1 STATUS  R   bit 0: busy, bit 1: done
//   2 NINSTR  RW  instructions in the program (the instruction buffer's first NINSTR words)
//   3 PC      R   the instruction being executed
//   4 CYCLES  R   cycles of the current or last run, the start cycle included
//   5 ID      R   {pes[15:0], banks[15:0]} of this configuration
{%- if p.ov.on %}
//   6 FRAMES  RW  frames one start runs (the overlapped machine's frame loop)
{%- endif %}
// Reads answer one cycle after the address (reg_rdata_o is registered).

module bbs_regs (
  input  wire                      clk_i,
  input  wire                      rst_ni,
  input  wire                      reg_we_i,
  input  wire [{{ p.w.reg_addr - 1 }}:0]                reg_addr_i,
  input  wire [31:0]               reg_wdata_i,
  output wire [31:0]               reg_rdata_o,
  input  wire                      busy_i,
  input  wire                      done_i,
  input  wire [{{ p.w.pc - 1 }}:0] pc_i,
  output wire                      start_o,
  output wire [{{ p.w.pc - 1 }}:0] n_instr_o
{%- if p.ov.on %},
  output wire [{{ p.ov.w_frame - 1 }}:0] frames_o
{%- endif %}
);

  {{ p.host_regs }}
  localparam [31:0] Id = {16'd{{ p.pes }}, 16'd{{ p.banks }}};

  reg [{{ p.w.pc - 1 }}:0] n_instr_q;
{%- if p.ov.on %}
  reg [{{ p.ov.w_frame - 1 }}:0] frames_q;
{%- endif %}
  reg [31:0] cycles_q;
  reg [31:0] rdata_q, rdata_d;

  // Only NINSTR's bits and CTRL's bit 0 are stored.
  wire unused_wdata_bits = ^reg_wdata_i[31:{{ p.w.pc }}];
  wire start = reg_we_i && (reg_addr_i == AddrCtrl) && reg_wdata_i[0] && !busy_i;

  always @(*) begin
    case (reg_addr_i)
      AddrStatus: rdata_d = {30'd0, done_i, busy_i};
      AddrNinstr: rdata_d = { {{ 32 - p.w.pc }}'d0, n_instr_q };
      AddrPc:     rdata_d = { {{ 32 - p.w.pc }}'d0, pc_i };
      AddrCycles: rdata_d = cycles_q;
      AddrId:     rdata_d = Id;
{%- if p.ov.on %}
      AddrFrames: rdata_d = { {{ 32 - p.ov.w_frame }}'d0, frames_q };
{%- endif %}
      default:    rdata_d = 32'd0;
    endcase
  end

  always @(posedge clk_i) begin
    if (!rst_ni) begin
      n_instr_q <= {{ p.w.pc }}'d0;
{%- if p.ov.on %}
      frames_q  <= {{ p.ov.w_frame }}'d1;
{%- endif %}
      cycles_q  <= 32'd0;
      rdata_q   <= 32'd0;
    end else begin
      if (reg_we_i && (reg_addr_i == AddrNinstr) && !busy_i) begin
        n_instr_q <= reg_wdata_i[{{ p.w.pc - 1 }}:0];
      end
{%- if p.ov.on %}
      if (reg_we_i && (reg_addr_i == AddrFrames) && !busy_i) begin
        frames_q <= reg_wdata_i[{{ p.ov.w_frame - 1 }}:0];
      end
{%- endif %}
      if (start) begin
        cycles_q <= 32'd1;
      end else if (busy_i) begin
        cycles_q <= cycles_q + 32'd1;
      end
      rdata_q <= rdata_d;
    end
  end

  assign reg_rdata_o = rdata_q;
  assign start_o     = start;
  assign n_instr_o   = n_instr_q;
{%- if p.ov.on %}
  assign frames_o    = frames_q;
{%- endif %}

endmodule
