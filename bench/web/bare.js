/* bare.js — the bare WebGL page bench/web measures the app against.
 *
 * ?n=N&src=URL: fetch URL (N×2 little-endian float32, x0,y0,x1,y1,…, as
 * GET /v1/datasets/{id}/layout answers), make one Float32Array of it, upload
 * it to one buffer, draw N gl.POINTS (2 px, colour from a per-point active
 * byte) and read one pixel back so the draw has finished. window.bare
 * holds: drawnAt (performance.now() at that readback: time since navigation,
 * data transfer and decoding included), and redraw() / recolour(k) for the
 * re-draw of the same points (recolour first uploads a new active array
 * with the first k points active, as a slider step would). */
(async () => {
  const q = new URLSearchParams(location.search);
  const n = Number(q.get('n'));
  const buf = await (await fetch(q.get('src'))).arrayBuffer();
  const pos = new Float32Array(buf, 0, n * 2);
  const canvas = document.getElementById('c');
  const gl = canvas.getContext('webgl2', { antialias: false, preserveDrawingBuffer: false });
  const sh = (type, src) => {
    const s = gl.createShader(type);
    gl.shaderSource(s, src);
    gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
    return s;
  };
  const prog = gl.createProgram();
  gl.attachShader(prog, sh(gl.VERTEX_SHADER, `#version 300 es
    in vec2 p; in float a; out vec4 col;
    void main() { gl_Position = vec4(p, 0.0, 1.0); gl_PointSize = 2.0;
      col = a > 0.5 ? vec4(0.85, 0.2, 0.1, 0.8) : vec4(0.3, 0.4, 0.6, 0.25); }`));
  gl.attachShader(prog, sh(gl.FRAGMENT_SHADER, `#version 300 es
    precision mediump float; in vec4 col; out vec4 o; void main() { o = col; }`));
  gl.linkProgram(prog);
  gl.useProgram(prog);
  const pb = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, pb);
  gl.bufferData(gl.ARRAY_BUFFER, pos, gl.STATIC_DRAW);
  const pl = gl.getAttribLocation(prog, 'p');
  gl.enableVertexAttribArray(pl);
  gl.vertexAttribPointer(pl, 2, gl.FLOAT, false, 0, 0);
  const active = new Uint8Array(n);
  const ab = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, ab);
  gl.bufferData(gl.ARRAY_BUFFER, active, gl.DYNAMIC_DRAW);
  const al = gl.getAttribLocation(prog, 'a');
  gl.enableVertexAttribArray(al);
  gl.vertexAttribPointer(al, 1, gl.UNSIGNED_BYTE, false, 0, 0);
  gl.enable(gl.BLEND);
  gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
  const px = new Uint8Array(4);
  const draw = () => {
    gl.clearColor(1, 1, 1, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.drawArrays(gl.POINTS, 0, n);
    gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
  };
  draw();
  window.bare = {
    n,
    drawnAt: performance.now(),
    redraw() { const t = performance.now(); draw(); return performance.now() - t; },
    recolour(k) {
      const t = performance.now();
      active.fill(0);
      active.fill(1, 0, Math.min(k, n));
      gl.bindBuffer(gl.ARRAY_BUFFER, ab);
      gl.bufferSubData(gl.ARRAY_BUFFER, 0, active);
      draw();
      return performance.now() - t;
    },
  };
})().catch((e) => { window.bare = { error: String(e) }; });
