{% include "header.v" %}
//
// The PE array's issue: it takes the SpMxVs in issue order (bbs_issue) and
// starts one in the first cycle that the PEs have issued the last one's
// last word, its vector is in the private banks (buf_full_i) and its waits
// on the write anchor are met (ready_i). That cycle is its first compute
// cycle: word 0 is issued in it (start_o). Then one CSB word per cycle to
// all PEs in lockstep, ceil(rows / {{ p.pes }}) * slots cycles (local row j, slot s is
// matrix-memory word mat_base + j * slots + s; PE p works on global row
// j * {{ p.pes }} + p), exactly as bbs_ctrl's COMPUTE. The results drain
// {{ p.drain_cycles }} cycles behind, while the next SpMxV's words issue.

module bbs_pe_issue (
  input  wire                            clk_i,
  input  wire                            rst_ni,
  input  wire                            head_valid_i,
  input  wire [{{ p.w.rows - 1 }}:0]     head_rows_i,
  input  wire [{{ p.w.slots - 1 }}:0]    head_slots_i,
  input  wire [{{ p.w.mat_addr - 1 }}:0] head_mat_i,
  input  wire                            buf_full_i,
  input  wire                            ready_i,
  output wire                            start_o,
  // Issuing the words after the first (from the registers).
  output wire                            running_o,
  // The last compute cycle: the private vector copy is free after it.
  output wire                            last_cycle_o,
  output wire                            issue_valid_o,
  output wire [{{ p.w.mat_addr - 1 }}:0] mat_addr_o,
  output wire                            first_o,
  output wire                            last_o,
  output wire [{{ p.w.local_row - 1 }}:0] local_row_o,
  output wire [{{ p.w.row_base - 1 }}:0] row_base_o,
  output wire [{{ p.w.rows - 1 }}:0]     rows_o
);

  localparam [{{ p.w.row_base - 1 }}:0] Pes = {{ p.w.row_base }}'d{{ p.pes }};

  reg                              run_q;
  reg [{{ p.w.rows - 1 }}:0]       rows_q;
  reg [{{ p.w.slots - 1 }}:0]      slots_q;
  reg [{{ p.w.mat_addr - 1 }}:0]   mat_addr_q;
  reg [{{ p.w.slots - 1 }}:0]      slot_q;
  reg [{{ p.w.local_row - 1 }}:0]  local_row_q;
  reg [{{ p.w.row_base - 1 }}:0]   row_base_q;

  wire start = !run_q && head_valid_i && buf_full_i && ready_i;

  // This cycle's word: the first one in the start cycle.
  wire [{{ p.w.rows - 1 }}:0]      rows      = start ? head_rows_i : rows_q;
  wire [{{ p.w.slots - 1 }}:0]     slots     = start ? head_slots_i : slots_q;
  wire [{{ p.w.mat_addr - 1 }}:0]  mat_addr  = start ? head_mat_i : mat_addr_q;
  wire [{{ p.w.slots - 1 }}:0]     slot      = start ? {{ p.w.slots }}'d0 : slot_q;
  wire [{{ p.w.local_row - 1 }}:0] local_row = start ? {{ p.w.local_row }}'d0 : local_row_q;
  wire [{{ p.w.row_base - 1 }}:0]  row_base  = start ? {{ p.w.row_base }}'d0 : row_base_q;

  wire issuing  = start || run_q;
  wire slot_last = (slot == slots - {{ p.w.slots }}'d1);
  wire [{{ p.w.row_base - 1 }}:0] rows_ext = { {{ p.w.row_base - p.w.rows }}'d0, rows };
  wire row_last = (row_base + Pes >= rows_ext);
  wire last_cycle = issuing && slot_last && row_last;

  always @(posedge clk_i) begin
    if (!rst_ni) begin
      run_q       <= 1'b0;
      rows_q      <= {{ p.w.rows }}'d0;
      slots_q     <= {{ p.w.slots }}'d0;
      mat_addr_q  <= {{ p.w.mat_addr }}'d0;
      slot_q      <= {{ p.w.slots }}'d0;
      local_row_q <= {{ p.w.local_row }}'d0;
      row_base_q  <= {{ p.w.row_base }}'d0;
    end else if (issuing) begin
      run_q      <= !last_cycle;
      rows_q     <= rows;
      slots_q    <= slots;
      mat_addr_q <= mat_addr + {{ p.w.mat_addr }}'d1;
      if (slot_last) begin
        slot_q      <= {{ p.w.slots }}'d0;
        local_row_q <= local_row + {{ p.w.local_row }}'d1;
        row_base_q  <= row_base + Pes;
      end else begin
        slot_q      <= slot + {{ p.w.slots }}'d1;
        local_row_q <= local_row;
        row_base_q  <= row_base;
      end
    end
  end

  assign start_o       = start;
  assign running_o     = run_q;
  assign last_cycle_o  = last_cycle;
  assign issue_valid_o = issuing;
  assign mat_addr_o    = mat_addr;
  assign first_o       = (slot == {{ p.w.slots }}'d0);
  assign last_o        = slot_last;
  assign local_row_o   = local_row;
  assign row_base_o    = row_base;
  assign rows_o        = rows;

endmodule
