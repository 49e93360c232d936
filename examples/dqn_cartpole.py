"""DQN on CartPole (gymnasium): replay memory, target network, Huber loss, gradient clipping.

    pip install "minitorch[rl]"; python examples/dqn_cartpole.py [--episodes 300]

The PyTorch DQN tutorial's code with minitorch imports. A random policy averages ~22 reward;
this reaches far more (the mean of the last 20 episodes is printed at the end).
"""

import argparse
import math
import random
from collections import deque, namedtuple

import gymnasium as gym

import minitorch as torch
import minitorch.nn as nn
import minitorch.nn.functional as F
import minitorch.optim as optim

Transition = namedtuple("Transition", ("state", "action", "next_state", "reward", "done"))


class DQN(nn.Module):
    def __init__(self, n_observations, n_actions):
        super().__init__()
        self.layer1 = nn.Linear(n_observations, 128)
        self.layer2 = nn.Linear(128, 128)
        self.layer3 = nn.Linear(128, n_actions)

    def forward(self, x):
        x = F.relu(self.layer1(x))
        x = F.relu(self.layer2(x))
        return self.layer3(x)


def optimize(policy_net, target_net, optimizer, memory, batch_size, gamma):
    if len(memory) < batch_size:
        return
    batch = Transition(*zip(*random.sample(memory, batch_size)))
    state = torch.cat(batch.state)
    action = torch.cat(batch.action)
    reward = torch.cat(batch.reward)
    next_state = torch.cat(batch.next_state)
    done = torch.cat(batch.done)

    q = policy_net(state).gather(1, action)
    with torch.no_grad():
        next_q = target_net(next_state).max(1)[0]
    expected = reward + gamma * next_q * (1 - done)
    loss = F.smooth_l1_loss(q, expected.unsqueeze(1))
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_value_(policy_net.parameters(), 100)
    torch.nn.utils.clip_grad_norm_(policy_net.parameters(), 10.0)
    optimizer.step()


def main(episodes: int = 300, seed: int = 0) -> float:
    random.seed(seed)
    torch.manual_seed(seed)
    env = gym.make("CartPole-v1")
    n_actions = env.action_space.n
    state, _ = env.reset(seed=seed)
    policy_net = DQN(len(state), n_actions)
    target_net = DQN(len(state), n_actions)
    target_net.load_state_dict(policy_net.state_dict())
    optimizer = optim.AdamW(policy_net.parameters(), lr=1e-3, amsgrad=True)
    memory = deque(maxlen=10000)
    steps, rewards = 0, []
    for episode in range(episodes):
        state, _ = env.reset()
        state = torch.tensor(state, dtype=torch.float32).unsqueeze(0)
        total = 0.0
        while True:
            eps = 0.05 + 0.85 * math.exp(-steps / 1000)
            steps += 1
            if random.random() > eps:
                with torch.no_grad():
                    action = policy_net(state).max(1)[1].view(1, 1)
            else:
                action = torch.tensor([[env.action_space.sample()]], dtype=torch.long)
            obs, reward, terminated, truncated, _ = env.step(action.item())
            total += reward
            next_state = torch.tensor(obs, dtype=torch.float32).unsqueeze(0)
            memory.append(
                Transition(
                    state,
                    action,
                    next_state,
                    torch.tensor([reward]),
                    torch.tensor([float(terminated)]),
                )
            )
            state = next_state
            optimize(policy_net, target_net, optimizer, memory, batch_size=64, gamma=0.99)
            # soft update of the target network: theta' <- tau theta + (1 - tau) theta'
            target_sd, policy_sd = target_net.state_dict(), policy_net.state_dict()
            for key in policy_sd:
                target_sd[key] = policy_sd[key] * 0.005 + target_sd[key] * 0.995
            target_net.load_state_dict(target_sd)
            if terminated or truncated:
                break
        rewards.append(total)
        if (episode + 1) % 20 == 0:
            print(
                f"episode {episode + 1:4d}  mean reward (last 20) {sum(rewards[-20:]) / 20:.1f}",
                flush=True,
            )
    return sum(rewards[-20:]) / 20


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    print(f"mean reward of the last 20 episodes: {main(parser.parse_args().episodes):.1f}")
