// The teleoperation / replay page. The server sends the scene's geometry once and body poses
// every tick (teleop) or all frames at once (view); three.js draws them. Protocol:
// dexndm/teleop/messages.py. window.dexndm exposes the page's state to tests and the console.
import * as THREE from './vendor/three.bundle.min.js';

const $ = (id) => document.getElementById(id);
const page = {
  ready: false,        // hello received and the scene built
  mode: null,          // 'teleop' | 'view'
  meshes: 0,           // drawn geoms
  webgl: true,
  states: 0,           // state messages received
  lastState: null,
  errors: [],          // error messages from the server
  frame: 0,            // view: the frame shown
  playing: false,
  send,
};
window.dexndm = page;

// ---- three.js scene ------------------------------------------------------------------------
const canvas = $('scene');
const scene = new THREE.Scene();
scene.background = new THREE.Color(0xe9ecf2);
const camera = new THREE.PerspectiveCamera(40, 1, 0.01, 10);
camera.up.set(0, 0, 1);  // MuJoCo's world is z-up
let renderer = null;
try {
  renderer = new THREE.WebGLRenderer({ canvas, antialias: true });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
} catch (err) {
  page.webgl = false;
  showError(`3D view unavailable (WebGL: ${err.message}); the controls still work`);
}
scene.add(new THREE.HemisphereLight(0xffffff, 0x8d8d99, 1.6));
const sun = new THREE.DirectionalLight(0xffffff, 1.8);
sun.position.set(0.6, -0.6, 1.6);
scene.add(sun);

let orbit = null;
let gizmo = null;
const wristHandle = new THREE.Object3D();     // the free-rotation gizmo turns this
wristHandle.add(new THREE.AxesHelper(0.09));  // the hand frame: x fingers, z palm normal
scene.add(wristHandle);
const axisArrow = new THREE.ArrowHelper(new THREE.Vector3(0, 0, 1), new THREE.Vector3(), 0.16, 0xd0342c, 0.03, 0.015);
scene.add(axisArrow);
if (renderer) {
  orbit = new THREE.OrbitControls(camera, canvas);
  orbit.enableDamping = true;
  gizmo = new THREE.TransformControls(camera, canvas);
  gizmo.setMode('rotate');
  gizmo.setSpace('world');
  gizmo.addEventListener('dragging-changed', (e) => {
    orbit.enabled = !e.value;
    if (!e.value) {  // released: command the wrist the operator turned to
      const q = wristHandle.quaternion;
      send({ type: 'set_wrist', wrist: [q.w, q.x, q.y, q.z] });
    }
  });
  scene.add(gizmo.getHelper());
  gizmo.getHelper().visible = false;
}
Object.assign(page, { camera, gizmo, wristHandle });  // for tests and the console

let bodies = [];          // THREE.Group per body, in the server's order
let objectBody = -1;

function geometryOf(g) {
  const [a, b, c] = g.size;
  switch (g.type) {
    case 'box': return new THREE.BoxGeometry(2 * a, 2 * b, 2 * c);
    case 'sphere': return new THREE.SphereGeometry(a, 24, 16);
    case 'ellipsoid': return new THREE.SphereGeometry(1, 24, 16).scale(a, b, c);
    // three's capsules and cylinders run along y, MuJoCo's along z
    case 'capsule': return new THREE.CapsuleGeometry(a, 2 * b, 8, 16).rotateX(Math.PI / 2);
    case 'cylinder': return new THREE.CylinderGeometry(a, a, 2 * b, 32).rotateX(Math.PI / 2);
    case 'plane': return new THREE.PlaneGeometry(2 * (a || 1), 2 * (b || 1));
    case 'mesh': {
      const geom = new THREE.BufferGeometry();
      geom.setAttribute('position', new THREE.Float32BufferAttribute(g.vertices, 3));
      geom.setIndex(g.faces);
      geom.computeVertexNormals();
      return geom;
    }
    default: return null;
  }
}

function buildScene(desc) {
  for (const b of bodies) scene.remove(b);
  bodies = desc.bodies.map((name) => {
    const group = new THREE.Group();
    group.name = name;
    scene.add(group);
    return group;
  });
  let meshes = 0;
  for (const g of desc.geoms) {
    const geom = geometryOf(g);
    if (!geom) continue;
    const [r, gr, bl, alpha] = g.rgba;
    const material = new THREE.MeshStandardMaterial({
      color: new THREE.Color(r, gr, bl), roughness: 0.6, metalness: 0.05,
      transparent: alpha < 1, opacity: alpha,
    });
    const mesh = new THREE.Mesh(geom, material);
    mesh.position.fromArray(g.pos);
    mesh.quaternion.set(g.quat[1], g.quat[2], g.quat[3], g.quat[0]);
    bodies[g.body].add(mesh);
    meshes += 1;
  }
  objectBody = desc.object_body;
  const look = new THREE.Vector3().fromArray(desc.lookat);
  wristHandle.position.copy(look);
  axisArrow.position.copy(look);
  if (orbit) {
    orbit.target.copy(look);
    camera.position.copy(look).add(new THREE.Vector3(0.34, -0.36, 0.24));
    orbit.update();
  }
  page.meshes = meshes;
}

function applyPoses(poses, objectKnown) {
  dirty = true;
  for (let i = 0; i < bodies.length; i++) {
    const k = 7 * i;
    bodies[i].position.set(poses[k], poses[k + 1], poses[k + 2]);
    bodies[i].quaternion.set(poses[k + 4], poses[k + 5], poses[k + 6], poses[k + 3]);
  }
  // the physical hand does not know where the object is: do not draw a guess
  if (objectBody >= 0) bodies[objectBody].visible = objectKnown;
}

function setAxisArrow(axis) {
  dirty = true;
  if (!axis) { axisArrow.visible = false; return; }
  axisArrow.visible = true;
  axisArrow.setDirection(new THREE.Vector3().fromArray(axis).normalize());
}

function resize() {
  const { clientWidth: w, clientHeight: h } = canvas;
  if (!renderer || w === 0 || h === 0) return;
  if (canvas.width !== Math.floor(w * renderer.getPixelRatio()) || canvas.height !== Math.floor(h * renderer.getPixelRatio())) {
    renderer.setSize(w, h, false);
    camera.aspect = w / h;
    camera.updateProjectionMatrix();
  }
}

// Draw only when something changed (a tick, a frame, the camera): a tablet's battery and a
// software-rendered test browser both thank us.
let dirty = true;
const redraw = () => { dirty = true; };
if (orbit) orbit.addEventListener('change', redraw);
if (gizmo) gizmo.addEventListener('change', redraw);
window.addEventListener('resize', redraw);

let lastTime = performance.now();
function animate(now) {
  const elapsed = (now - lastTime) / 1000;
  lastTime = now;
  if (page.mode === 'view' && page.playing) advancePlayback(elapsed);
  if (renderer) {
    orbit.update();  // damping: emits 'change' while the camera still moves
    if (dirty) {
      resize();
      renderer.render(scene, camera);
      page.renders = (page.renders || 0) + 1;
      dirty = false;
    }
  }
  requestAnimationFrame(animate);
}
requestAnimationFrame(animate);

// ---- connection ----------------------------------------------------------------------------
let socket = null;
function connect() {
  socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  socket.onmessage = (event) => receive(JSON.parse(event.data));
  socket.onclose = () => {
    setStatus('disconnected: retrying…');
    setTimeout(connect, 1000);
  };
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function receive(msg) {
  switch (msg.type) {
    case 'hello':
      page.mode = msg.mode;
      buildScene(msg.scene);
      if (msg.mode === 'teleop') setupTeleop(msg);
      else setupView(msg.replay);
      page.ready = true;
      break;
    case 'scene':
      buildScene(msg.scene);
      break;
    case 'state':
      showState(msg);
      break;
    case 'error':
      page.errors.push(msg.error);
      showError(msg.error);
      break;
    default:
      console.warn('unknown message', msg.type);
  }
}

function setStatus(text) { $('status').textContent = text; }
let errorTimer = null;
function showError(text) {
  const box = $('error');
  box.textContent = text;
  box.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

const fmt = (v, digits, unit) => (v === null || v === undefined ? 'n/a' : `${v.toFixed(digits)} ${unit}`);

// ---- teleoperation -------------------------------------------------------------------------
const AXES = ['+x', '-x', '+y', '-y', '+z', '-z', 'xyz', 'xz', 'xy', 'yz'];
const WRISTS = ['palm_up', 'palm_down', 'base_up', 'base_down', 'thumb_up', 'thumb_down'];

function buttons(container, names, onClick, attr) {
  container.replaceChildren(...names.map((name) => {
    const b = document.createElement('button');
    b.textContent = name.replace('_', ' ');
    b.dataset[attr] = name;
    b.dataset.testid = `${attr}-${name}`;
    b.addEventListener('click', () => onClick(name));
    return b;
  }));
}

function setupTeleop(msg) {
  $('teleop-controls').hidden = false;
  $('title').textContent = `Teleoperation · ${msg.state.driver}`;
  buttons($('axes'), AXES, (name) => send({ type: 'set_axis', axis: name }), 'axis');
  buttons($('wrists'), WRISTS, (name) => send({ type: 'set_wrist', wrist: name }), 'wrist');
  $('objects').replaceChildren(...(msg.choices.objects || []).map((name) => {
    const o = document.createElement('option');
    o.value = name;
    return o;
  }));
  $('object').value = msg.state.object;
  showState(msg.state);
}

$('start').addEventListener('click', () => send({ type: 'start' }));
$('stop').addEventListener('click', () => send({ type: 'stop' }));
$('reset').addEventListener('click', () => send({ type: 'reset' }));
$('free-axis').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = e.target;
  send({ type: 'set_axis', axis: ['x', 'y', 'z'].map((k) => Number(f[k].value)) });
});
$('object-form').addEventListener('submit', (e) => {
  e.preventDefault();
  send({ type: 'set_object', object: $('object').value });
});
$('residual').addEventListener('change', (e) => send({ type: 'set_residual', enabled: e.target.checked }));
$('gizmo').addEventListener('click', () => {
  if (!gizmo) return;
  const on = $('gizmo').getAttribute('aria-pressed') !== 'true';
  $('gizmo').setAttribute('aria-pressed', String(on));
  if (on) gizmo.attach(wristHandle); else gizmo.detach();
  gizmo.getHelper().visible = on;
  dirty = true;
});

function showState(s) {
  if (!s || !s.poses) return;
  page.states += 1;
  page.lastState = s;
  applyPoses(s.poses, s.object_known);
  setAxisArrow(s.axis);
  if (!gizmo || !gizmo.dragging) wristHandle.quaternion.set(s.wrist[1], s.wrist[2], s.wrist[3], s.wrist[0]);
  for (const b of $('axes').children) b.classList.toggle('active', b.dataset.axis === s.axis_label);
  for (const b of $('wrists').children) b.classList.toggle('active', b.dataset.wrist === s.wrist_label);
  $('start').disabled = s.running;
  $('stop').disabled = !s.running;
  const residual = $('residual');
  residual.disabled = !s.residual.available;
  residual.checked = s.residual.on;
  $('residual-label').title = s.residual.available ? 'Add the residual correction to the policy\'s targets' : s.residual.note;
  $('wrist-note').textContent = s.live_wrist ? 'the wrist turns live' : 'a new wrist re-grasps';
  const r = s.readouts;
  $('readouts').querySelector('[data-testid=omega]').textContent = fmt(r.omega_axis, 2, 'rad/s');
  $('readouts').querySelector('[data-testid=turned]').textContent = fmt(r.turned_rad, 2, 'rad');
  $('readouts').querySelector('[data-testid=time]').textContent = fmt(r.time_since_grasp_s, 1, 's');
  $('readouts').querySelector('[data-testid=loop]').textContent = fmt(r.loop_hz, 1, 'Hz');
  setStatus(`${s.object} · ${s.status}`);
}

// ---- replay (dexndm view) ------------------------------------------------------------------
let replay = null;
let frameFloat = 0;

function setupView(r) {
  replay = r;
  $('view-controls').hidden = false;
  $('title').textContent = r.title;
  $('time-label').textContent = 'Time';
  $('scrub').max = String(r.count - 1);
  $('notes').textContent = describe(r.notes);
  setAxisArrow(r.axis);
  wristHandle.quaternion.set(r.wrist[1], r.wrist[2], r.wrist[3], r.wrist[0]);
  $('readouts').querySelector('[data-testid=loop]').textContent = `${(1 / r.dt).toFixed(1)} Hz (recorded)`;
  showFrame(0);
}

function describe(notes) {
  const parts = [notes.source];
  if (notes.metrics) parts.push(`Rot ${notes.metrics.rot.toFixed(2)} rad, TTF ${notes.metrics.ttf.toFixed(2)}`);
  if (notes.matches_record !== undefined) parts.push(notes.matches_record ? 'matches the recorded metrics' : 'differs from the recorded metrics');
  return parts.join(' · ');
}

function showFrame(k) {
  page.frame = k;
  frameFloat = k;
  applyPoses(replay.poses[k], replay.object_known);
  $('scrub').value = String(k);
  const turned = replay.turned_rad ? replay.turned_rad[k] : null;
  $('readouts').querySelector('[data-testid=turned]').textContent = fmt(turned, 2, 'rad');
  const omega = replay.turned_rad && k > 0 ? (replay.turned_rad[k] - replay.turned_rad[Math.max(0, k - 10)]) / (Math.min(k, 10) * replay.dt) : null;
  $('readouts').querySelector('[data-testid=omega]').textContent = fmt(omega, 2, 'rad/s');
  $('readouts').querySelector('[data-testid=time]').textContent = `${(k * replay.dt).toFixed(2)} / ${((replay.count - 1) * replay.dt).toFixed(2)} s`;
  setStatus(`frame ${k + 1} of ${replay.count}${page.playing ? ' · playing' : ''}`);
}

function advancePlayback(elapsed) {
  const speed = Number($('speed').value);
  frameFloat = Math.min(frameFloat + (elapsed * speed) / replay.dt, replay.count - 1);
  const k = Math.floor(frameFloat);
  const keep = frameFloat;
  if (k !== page.frame) showFrame(k);
  frameFloat = keep;
  if (k >= replay.count - 1) setPlaying(false);
}

function setPlaying(on) {
  if (on && page.frame >= replay.count - 1) showFrame(0);  // play again from the start
  page.playing = on;
  $('play').textContent = on ? 'Pause' : 'Play';
  showFrame(page.frame);
}

$('play').addEventListener('click', () => setPlaying(!page.playing));
$('scrub').addEventListener('input', (e) => showFrame(Number(e.target.value)));

connect();
