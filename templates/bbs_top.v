{% include "header.v" %}
//
// Top level: the controller, the vector memory (written by the host before
// start_i), {{ p.pes }} PE(s) with their matrix memories preloaded from
// pe<p>_mat.hex, and the read port of the PEs' output buffers.
//
// Host protocol: load the matrix (preloaded by $readmemh, or word by word
// through mat_we_i), write the input vector (one word of {{ p.banks }} elements per
// bank address) through vec_we_i/vec_waddr_i/vec_wdata_i, set rows_i, slots_i
// and vec_words_i (the matrix's bank size), pulse start_i, wait for done_o, then
// read row r at out_pe_i = r % {{ p.pes }}, out_addr_i = r / {{ p.pes }}; out_rdata_o
// answers one cycle later.

module bbs_top (
  input  wire                          clk_i,
  input  wire                          rst_ni,
  input  wire                          start_i,
  output wire                          busy_o,
  output wire                          done_o,
  input  wire [{{ p.rows_w - 1 }}:0]   rows_i,
  input  wire [{{ p.slots_w - 1 }}:0]  slots_i,
  input  wire [{{ p.vec_words_w - 1 }}:0] vec_words_i,
  // Matrix load at run time (instead of, or over, the $readmemh contents):
  // word mat_waddr_i of PE mat_pe_i's matrix memory.
  input  wire                          mat_we_i,
  input  wire [{{ p.pe_sel_w - 1 }}:0] mat_pe_i,
  input  wire [{{ p.mat_addr_w - 1 }}:0] mat_waddr_i,
  input  wire [{{ p.mat_word_w - 1 }}:0] mat_wdata_i,
  input  wire                          vec_we_i,
  input  wire [{{ p.index_w - 1 }}:0]  vec_waddr_i,
  input  wire [{{ p.banks * p.value_w - 1 }}:0] vec_wdata_i,
  input  wire [{{ p.pe_sel_w - 1 }}:0] out_pe_i,
  input  wire [{{ p.local_row_w - 1 }}:0] out_addr_i,
  output wire [{{ p.value_w - 1 }}:0]  out_rdata_o
);

  wire [{{ p.index_w - 1 }}:0] vec_raddr;
  wire [{{ p.banks * p.value_w - 1 }}:0] vec_rdata;
  wire                         pe_vec_we;
  wire [{{ p.index_w - 1 }}:0] pe_vec_waddr;
  wire                         issue_valid;
  wire [{{ p.mat_addr_w - 1 }}:0] mat_addr;
  wire                         first;
  wire                         last;
  wire [{{ p.local_row_w - 1 }}:0] local_row;
  wire [{{ p.row_base_w - 1 }}:0] row_base;

  bbs_ctrl u_ctrl (
    .clk_i        (clk_i),
    .rst_ni       (rst_ni),
    .start_i      (start_i),
    .busy_o       (busy_o),
    .done_o       (done_o),
    .rows_i       (rows_i),
    .slots_i      (slots_i),
    .vec_words_i  (vec_words_i),
    .vec_raddr_o  (vec_raddr),
    .vec_we_o     (pe_vec_we),
    .vec_waddr_o  (pe_vec_waddr),
    .issue_valid_o(issue_valid),
    .mat_addr_o   (mat_addr),
    .first_o      (first),
    .last_o       (last),
    .local_row_o  (local_row),
    .row_base_o   (row_base)
  );

  bbs_ram #(
    .WIDTH({{ p.banks * p.value_w }}),
    .DEPTH({{ p.bank_depth }}),
    .ADDR_W({{ p.index_w }})
  ) u_vec_mem (
    .clk_i  (clk_i),
    .we_i   (vec_we_i),
    .waddr_i(vec_waddr_i),
    .wdata_i(vec_wdata_i),
    .raddr_i(vec_raddr),
    .rdata_o(vec_rdata)
  );

  wire [{{ p.row_base_w - 1 }}:0] rows_ext = { {{ p.row_base_w - p.rows_w }}'d0, rows_i };
{% for pe in p.pe_list %}
  // PE {{ pe }}: global rows {{ pe }}, {{ pe }} + {{ p.pes }}, ...
  wire [{{ p.value_w - 1 }}:0] pe{{ pe }}_out;
  wire pe{{ pe }}_row_ok = (row_base + {{ p.row_base_w }}'d{{ pe }}) < rows_ext;
  wire pe{{ pe }}_mat_we = mat_we_i && (mat_pe_i == {{ p.pe_sel_w }}'d{{ pe }});

  bbs_pe #(
    .INIT_FILE("pe{{ pe }}_mat.hex")
  ) u_pe{{ pe }} (
    .clk_i        (clk_i),
    .rst_ni       (rst_ni),
    .mat_we_i     (pe{{ pe }}_mat_we),
    .mat_waddr_i  (mat_waddr_i),
    .mat_wdata_i  (mat_wdata_i),
    .vec_we_i     (pe_vec_we),
    .vec_waddr_i  (pe_vec_waddr),
    .vec_wdata_i  (vec_rdata),
    .issue_valid_i(issue_valid),
    .mat_addr_i   (mat_addr),
    .first_i      (first),
    .last_i       (last),
    .row_ok_i     (pe{{ pe }}_row_ok),
    .local_row_i  (local_row),
    .out_raddr_i  (out_addr_i),
    .out_rdata_o  (pe{{ pe }}_out)
  );
{% endfor %}
  // The output buffers answer one cycle after the address: select with the
  // PE number of that cycle.
  reg [{{ p.pe_sel_w - 1 }}:0] out_pe_q;
  reg [{{ p.value_w - 1 }}:0] out_rdata;

  always @(posedge clk_i) begin
    if (!rst_ni) begin
      out_pe_q <= {{ p.pe_sel_w }}'d0;
    end else begin
      out_pe_q <= out_pe_i;
    end
  end

  always @(*) begin
    case (out_pe_q)
{%- for pe in p.pe_list %}
      {{ p.pe_sel_w }}'d{{ pe }}: out_rdata = pe{{ pe }}_out;
{%- endfor %}
      default: out_rdata = {{ p.value_w }}'d0;
    endcase
  end

  assign out_rdata_o = out_rdata;

endmodule
